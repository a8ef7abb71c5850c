# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# Private to this collection: not a public API, may change without notice.
#
# The host worker runner: runs a piece of work (a WUA scan today, an installation later) in a
# PowerShell process outside the WinRM logon and keeps what it leaves until the controller has it.
# One kind of work ("scan", "install") has a work folder and a scheduled task per work id:
#
#   %SystemRoot%\Temp\patchwave-<kind>-<id>\   ACL'd: SYSTEM, Administrators, the connecting user
#       work.json          its kind, id, owner (the connecting user's SID), creation and give-up time
#       params.json        what the work needs (written by Start-PatchwaveWorker)
#       worker.ps1         the worker's functions, copied by text (the worker loads nothing else)
#       launch.json        the worker process as started: pid and start time (PIDs repeat after a reboot)
#       worker.json        the worker process as it sees itself: pid, start time, user
#       progress.json      the phase it is in, rewritten atomically
#       result.json        the result, kept until the controller acknowledges it (cancel)
#       worker_error.txt   what stopped the worker before it wrote a result
#   task \patchwave-<kind>-<id>                 S4U as the connecting user, else SYSTEM; deleted as
#                                               soon as the worker runs (the process keeps running)
#
# One staleness rule for every kind (Remove-PatchwaveStaleWork, at every start): a piece of work
# past its give-up time (start + the controller's timeout + its reconnect window), or whose worker
# process was recorded and is gone without a result, is removed with its task and folder. A live
# worker of another kind or owner is never touched.
#
# Why a scheduled task: WUA (and much of what install needs) refuses a WinRM network logon
# (E_ACCESSDENIED); a task's S4U or service logon is accepted, and the task outlives a dropped
# connection. The work's module calls Start-PatchwaveWorker, then Get-PatchwaveWorkState /
# Get-PatchwaveWorkerFailure on every poll and Stop-PatchwaveWorker to acknowledge or cancel.
#
# Functions in $script:TaskWorkerFunctions run inside the worker too: they are copied into
# worker.ps1 by text, so they read no $script: or $global: variables (tests/pscheck.py checks it).

$ErrorActionPreference = 'Stop'

$script:WorkPrefix = 'patchwave-'

# ITaskFolder.GetTask's HRESULT for a task that does not exist: ERROR_FILE_NOT_FOUND 0x80070002,
# unsigned as ConvertTo-PatchwaveUInt32 gives it.
$script:TaskNotFound = 2147942402

# When the controller does not say when it gives up: the task's 12-hour limit and an hour more.
$script:DefaultGiveUpSeconds = 46800

# Functions every worker.ps1 gets, besides the kind's own (Start-PatchwaveWorker -Functions).
$script:TaskWorkerFunctions = @(
    'ConvertTo-PatchwaveUInt32'
    'Get-PatchwaveInnerException'
    'Get-PatchwaveErrorHResult'
    'Format-PatchwaveError'
    'Remove-PatchwaveComObject'
    'Get-PatchwaveTimestamp'
    'ConvertFrom-PatchwaveTimestamp'
    'New-PatchwaveList'
    'Write-PatchwaveJsonFile'
    'Write-PatchwaveProgress'
    'Get-PatchwaveProcessRecord'
    'Invoke-PatchwaveWorker'
)

Function ConvertTo-PatchwaveUInt32 {
    <#
    .SYNOPSIS
    Returns a 32-bit code (HRESULT, task result) as its unsigned value, 0x80070005 -> 2147942405.

    .DESCRIPTION
    COM and .NET hand out HRESULTs as signed 32-bit integers; the scan contract carries them
    unsigned so they read like the hexadecimal codes Microsoft documents.

    .PARAMETER Value
    The code, signed or unsigned.
    #>
    [CmdletBinding()]
    [OutputType([Int64])]
    param (
        [Parameter(Mandatory = $true)]
        [Int64]
        $Value
    )

    if ($Value -lt 0) {
        $Value += 4294967296
    }
    $Value
}

Function Get-PatchwaveInnerException {
    <#
    .SYNOPSIS
    Returns the exception that says what failed: the first COMException in the chain of inner
    exceptions, else the innermost one; $null for no error.

    .DESCRIPTION
    PowerShell wraps what a .NET method or a COM call throws (MethodInvocationException around a
    COMException, an IOException...); the wrapped exception carries the code and the type worth
    reporting. The one walk of the chain, for Get-PatchwaveErrorHResult, Format-PatchwaveError and
    callers that tell one failure from another (a missing file).

    .PARAMETER ErrorObject
    An ErrorRecord or an Exception.
    #>
    [CmdletBinding()]
    [OutputType([Exception])]
    param (
        [Parameter(Mandatory = $true)]
        [AllowNull()]
        [Object]
        $ErrorObject
    )

    $exception = $ErrorObject
    if ($exception -is [System.Management.Automation.ErrorRecord]) {
        $exception = $exception.Exception
    }
    while ($null -ne $exception -and $exception -isnot [System.Runtime.InteropServices.COMException] -and
        $null -ne $exception.InnerException) {
        $exception = $exception.InnerException
    }
    $exception
}

Function Get-PatchwaveErrorHResult {
    <#
    .SYNOPSIS
    Returns the HRESULT of a failed COM or .NET method call (unsigned), or $null for any other error.

    .DESCRIPTION
    PowerShell wraps a failing method call in a MethodInvocationException. Inside it, a COM call's
    error is a COMException carrying the HRESULT (for example WU_E_INVALID_CRITERIA 0x80240032),
    except for the HRESULTs the runtime maps to .NET exceptions of their own ("Handling COM Interop
    Exceptions"): E_ACCESSDENIED arrives as UnauthorizedAccessException, E_INVALIDARG as
    ArgumentException, 0x80070002 as FileNotFoundException, each with the HRESULT in its HResult.
    So a COMException gives its ErrorCode, and any other exception inside a MethodInvocationException
    gives its HResult (what CreateUpdateInstaller, CopyToCache or File.Copy returned). An error
    PowerShell raised itself (a throw, a failed cmdlet: 0x80131501) is no code of the host's and
    gives $null; Format-PatchwaveError names it by its type.

    .PARAMETER ErrorObject
    An ErrorRecord or an Exception.
    #>
    [CmdletBinding()]
    [OutputType([Int64])]
    param (
        [Parameter(Mandatory = $true)]
        [AllowNull()]
        [Object]
        $ErrorObject
    )

    $exception = Get-PatchwaveInnerException -ErrorObject $ErrorObject
    if ($exception -is [System.Runtime.InteropServices.COMException]) {
        return ConvertTo-PatchwaveUInt32 -Value $exception.ErrorCode
    }
    $outer = $ErrorObject
    if ($outer -is [System.Management.Automation.ErrorRecord]) {
        $outer = $outer.Exception
    }
    if ($null -ne $exception -and $outer -is [System.Management.Automation.MethodInvocationException] -and
        $exception -isnot [System.Management.Automation.RuntimeException]) {
        return ConvertTo-PatchwaveUInt32 -Value $exception.HResult
    }
    $null
}

Function Format-PatchwaveError {
    <#
    .SYNOPSIS
    Returns the text of an error: its message, and for anything but a COM error the type of the
    exception behind it, "Could not copy ... (System.IO.IOException)".

    .DESCRIPTION
    A COM error is told by its HRESULT (Get-PatchwaveErrorHResult); any other error has no code
    worth decoding, so its exception type (the innermost, the one that was thrown first) says what
    failed.

    .PARAMETER ErrorObject
    An ErrorRecord or an Exception.
    #>
    [CmdletBinding()]
    [OutputType([String])]
    param (
        [Parameter(Mandatory = $true)]
        [AllowNull()]
        [Object]
        $ErrorObject
    )

    $exception = $ErrorObject
    if ($exception -is [System.Management.Automation.ErrorRecord]) {
        $exception = $exception.Exception
    }
    if ($null -eq $exception) {
        return 'Unknown error.'
    }
    $inner = Get-PatchwaveInnerException -ErrorObject $exception
    if ($inner -is [System.Runtime.InteropServices.COMException]) {
        return [String]$inner.Message  # WUA's or the Task Scheduler's own text, without PowerShell's wrapping
    }
    '{0} ({1})' -f ($exception.Message, $inner.GetType().FullName)
}

Function Remove-PatchwaveComObject {
    <#
    .SYNOPSIS
    Releases COM objects (Marshal.ReleaseComObject) so WUA and the Task Scheduler let go of them
    now, not when the garbage collector runs; $null and non-COM values are skipped.

    .PARAMETER InputObject
    The objects to release.
    #>
    [CmdletBinding()]
    param (
        [Parameter(Mandatory = $true)]
        [AllowNull()]
        [AllowEmptyCollection()]
        [Object[]]
        $InputObject
    )

    foreach ($item in $InputObject) {
        if ($null -ne $item -and [Runtime.InteropServices.Marshal]::IsComObject($item)) {
            $null = [Runtime.InteropServices.Marshal]::ReleaseComObject($item)
        }
    }
}

Function Get-PatchwaveTimestamp {
    <#
    .SYNOPSIS
    Returns a time as ISO 8601 UTC text, 2026-11-23T20:15:00Z (now when no date is given).

    .PARAMETER Date
    The time to format.
    #>
    [CmdletBinding()]
    [OutputType([String])]
    param (
        [Parameter()]
        [DateTime]
        $Date = [DateTime]::UtcNow
    )

    $Date.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", [Globalization.CultureInfo]::InvariantCulture)
}

Function New-PatchwaveList {
    <#
    .SYNOPSIS
    Returns a new empty List[Object].

    .DESCRIPTION
    A generic list serializes to a JSON array whatever its length (PowerShell 5.1's ConvertTo-Json
    turns a one-element array that went through the pipeline into a scalar, and $null for none).
    The list is returned with the unary comma so PowerShell does not unroll it.
    #>
    [CmdletBinding()]
    [OutputType([System.Collections.Generic.List[Object]])]
    param ()

    $list = New-Object -TypeName 'System.Collections.Generic.List[Object]'
    return , $list
}

Function Write-PatchwaveJsonFile {
    <#
    .SYNOPSIS
    Writes an object as JSON (UTF-8, no BOM) atomically: a temporary file beside the target, then
    a rename, so a reader sees the old content or the new, never half of it.

    .PARAMETER Path
    The file to write.

    .PARAMETER InputObject
    What to write; nested dictionaries and lists up to 10 levels deep.
    #>
    [CmdletBinding()]
    param (
        [Parameter(Mandatory = $true)]
        [String]
        $Path,

        [Parameter(Mandatory = $true)]
        [Object]
        $InputObject
    )

    $json = ConvertTo-Json -InputObject $InputObject -Depth 10 -Compress
    $temporary = '{0}.{1}.tmp' -f ($Path, [Guid]::NewGuid().ToString('N'))
    [IO.File]::WriteAllText($temporary, $json, (New-Object -TypeName Text.UTF8Encoding -ArgumentList $false))
    try {
        if ([IO.File]::Exists($Path)) {
            [IO.File]::Replace($temporary, $Path, [NullString]::Value)
        }
        else {
            [IO.File]::Move($temporary, $Path)
        }
    }
    finally {
        if ([IO.File]::Exists($temporary)) {
            [IO.File]::Delete($temporary)
        }
    }
}

Function Write-PatchwaveProgress {
    <#
    .SYNOPSIS
    Records the worker's current phase in progress.json of the work folder (returned by poll).

    .DESCRIPTION
    The phases are the kind's own (a scan: starting, staging, searching, collecting). A failure to
    write is ignored: progress is informative only.

    .PARAMETER WorkDirectory
    The work folder.

    .PARAMETER Phase
    The phase the worker enters.

    .PARAMETER Detail
    More about the phase (counts, percentages), merged into the record.
    #>
    [CmdletBinding()]
    param (
        [Parameter(Mandatory = $true)]
        [String]
        $WorkDirectory,

        [Parameter(Mandatory = $true)]
        [String]
        $Phase,

        [Parameter()]
        [Collections.IDictionary]
        $Detail
    )

    $progress = [Ordered]@{
        phase = $Phase
        updated = (Get-PatchwaveTimestamp)
    }
    if ($Detail) {
        foreach ($key in $Detail.Keys) {
            $progress[$key] = $Detail[$key]
        }
    }
    try {
        Write-PatchwaveJsonFile -Path (Join-Path -Path $WorkDirectory -ChildPath 'progress.json') -InputObject $progress
    }
    catch {
        Write-Verbose -Message "Could not record progress: $($_.Exception.Message)"
    }
}

Function Get-PatchwaveProcessRecord {
    <#
    .SYNOPSIS
    Returns how a worker process is recorded and recognised: {pid, process_started}.

    .DESCRIPTION
    Process ids are reused (once a process has ended, after a reboot), so a live process is the
    worker only when its start time matches too. process_started is the start time as a Windows
    file time (DateTime.ToFileTimeUtc: UTC, 100-nanosecond units), which compares exactly whatever
    the time zone; $null when this token may not read it (a SYSTEM worker seen by the connecting
    user). launch.json, worker.json and Get-PatchwaveWorkerProcess all use this record.

    .PARAMETER Process
    The process.
    #>
    [CmdletBinding()]
    [OutputType([System.Collections.Specialized.OrderedDictionary])]
    param (
        [Parameter(Mandatory = $true)]
        [System.Diagnostics.Process]
        $Process
    )

    $started = $null
    try {
        $started = $Process.StartTime.ToFileTimeUtc()
    }
    catch {
        Write-Verbose -Message "The start time of process $($Process.Id) cannot be read: $($_.Exception.Message)"
    }
    [Ordered]@{ pid = $Process.Id; process_started = $started }
}

Function Invoke-PatchwaveWorker {
    <#
    .SYNOPSIS
    The worker's entry point: runs the kind's entry function on params.json of the work folder and
    writes its result to result.json there, atomically.

    .DESCRIPTION
    Writes worker.json first (its process id and start time, so poll can tell a running worker
    from a lost one), and the phase "starting". The entry function is called as
    <EntryPoint> -WorkDirectory <folder> -Parameters <params.json as an object> and returns the
    result; it should turn its own failures into a result. What it throws, and any failure to
    write result.json, reaches the bootstrap (Get-PatchwaveWorkerCommand), which records it in
    worker_error.txt. The result stays until the controller's cancel step removes the folder, so a
    poll answer lost on the way is read again.

    .PARAMETER WorkDirectory
    The work folder.

    .PARAMETER EntryPoint
    The name of the kind's entry function (copied into worker.ps1).
    #>
    [CmdletBinding()]
    param (
        [Parameter(Mandatory = $true)]
        [String]
        $WorkDirectory,

        [Parameter(Mandatory = $true)]
        [String]
        $EntryPoint
    )

    $identity = [Security.Principal.WindowsIdentity]::GetCurrent()
    $record = Get-PatchwaveProcessRecord -Process (Get-Process -Id $PID)
    $record.user = $identity.Name
    $record.user_sid = $identity.User.Value
    Write-PatchwaveJsonFile -Path (Join-Path -Path $WorkDirectory -ChildPath 'worker.json') -InputObject $record
    Write-PatchwaveProgress -WorkDirectory $WorkDirectory -Phase 'starting'

    $parametersJson = [IO.File]::ReadAllText((Join-Path -Path $WorkDirectory -ChildPath 'params.json'))
    $parameters = ConvertFrom-Json -InputObject $parametersJson
    $result = & $EntryPoint -WorkDirectory $WorkDirectory -Parameters $parameters
    Write-PatchwaveJsonFile -Path (Join-Path -Path $WorkDirectory -ChildPath 'result.json') -InputObject $result
}

Function Get-PatchwaveWorkerScript {
    <#
    .SYNOPSIS
    Returns the text of worker.ps1: the runner's worker functions and the kind's, copied from the
    loaded modules.

    .DESCRIPTION
    The worker is a fresh powershell.exe with neither Ansible nor these modules loaded, so it gets
    the very functions the module runs in-process; one code path for both kinds of worker.

    .PARAMETER Functions
    The kind's functions the worker calls (its entry function and everything it reaches).
    #>
    [CmdletBinding()]
    [OutputType([String])]
    param (
        [Parameter(Mandatory = $true)]
        [String[]]
        $Functions
    )

    $builder = New-Object -TypeName Text.StringBuilder
    [void]$builder.AppendLine('# patchwave.windows worker, written for one piece of work.')
    [void]$builder.AppendLine('$ErrorActionPreference = ''Stop''')
    foreach ($name in (@($script:TaskWorkerFunctions) + @($Functions) | Select-Object -Unique)) {
        $command = Get-Command -Name $name -CommandType Function
        [void]$builder.AppendLine("Function $name {")
        [void]$builder.AppendLine($command.ScriptBlock.ToString())
        [void]$builder.AppendLine('}')
    }
    $builder.ToString()
}

Function Get-PatchwaveWorkerCommand {
    <#
    .SYNOPSIS
    Returns the powershell.exe arguments that run worker.ps1 of a work folder.

    .DESCRIPTION
    A short -EncodedCommand reads worker.ps1 into a script block and calls the worker; a script
    block is not subject to the execution policy, as with Ansible's own bootstrap. worker.ps1 lives
    in the ACL'd work folder, which only SYSTEM, Administrators and the connecting user may write:
    the SYSTEM worker never runs a script a less privileged user could change.

    Whatever stops the worker before it has written its result (worker.ps1 does not parse, the
    language mode forbids it under WDAC or Constrained Language Mode, result.json cannot be written)
    is written to worker_error.txt in the work folder, with the language mode, and the process
    exits 1; poll returns that text when the work is lost. The exit status reaches the task's
    LastTaskResult only while the task is still registered, which is rarely so: Start-PatchwaveWorker
    deletes the task once the worker runs, so worker_error.txt is the diagnosis that remains. The
    error is written with Set-Content, which Constrained Language Mode still allows.

    .PARAMETER WorkDirectory
    The work folder.

    .PARAMETER EntryPoint
    The kind's entry function (Invoke-PatchwaveWorker calls it).
    #>
    [CmdletBinding()]
    [OutputType([String])]
    param (
        [Parameter(Mandatory = $true)]
        [String]
        $WorkDirectory,

        [Parameter(Mandatory = $true)]
        [ValidatePattern('^[A-Za-z]+-Patchwave[A-Za-z]+$')]
        [String]
        $EntryPoint
    )

    $quoted = $WorkDirectory -replace "'", "''"
    $bootstrap = @(
        '$ErrorActionPreference = ''Stop'''
        ('$dir = ''{0}''' -f $quoted)
        'try {'
        '    $text = [IO.File]::ReadAllText([IO.Path]::Combine($dir, ''worker.ps1''))'
        '    . ([ScriptBlock]::Create($text))'
        ('    Invoke-PatchwaveWorker -WorkDirectory $dir -EntryPoint ''{0}''' -f $EntryPoint)
        '}'
        'catch {'
        '    $lines = @('
        '        "The worker stopped before writing its result: $($_.Exception.Message)"'
        '        "Error id: $($_.FullyQualifiedErrorId); language mode: $($ExecutionContext.SessionState.LanguageMode)"'
        '        "$($_.ScriptStackTrace)"'
        '    )'
        '    Set-Content -LiteralPath (Join-Path -Path $dir -ChildPath ''worker_error.txt'') -Value $lines -Encoding UTF8'
        '    exit 1'
        '}'
    ) -join "`n"
    $encoded = [Convert]::ToBase64String([Text.Encoding]::Unicode.GetBytes($bootstrap))
    "-NoProfile -NonInteractive -EncodedCommand $encoded"
}

Function Get-PatchwaveWorkName {
    <#
    .SYNOPSIS
    Returns the name of a piece of work's folder and task: patchwave-<kind>-<id>.

    .DESCRIPTION
    The kind is lower-case letters and the id must be a GUID, so a crafted id cannot point outside
    %SystemRoot%\Temp or the Task Scheduler's root folder.

    .PARAMETER Kind
    The kind of work: scan, install...

    .PARAMETER WorkId
    The work's id (a GUID).
    #>
    [CmdletBinding()]
    [OutputType([String])]
    param (
        [Parameter(Mandatory = $true)]
        [ValidatePattern('^[a-z]+$')]
        [String]
        $Kind,

        [Parameter(Mandatory = $true)]
        [String]
        $WorkId
    )

    $guid = [Guid]::Empty
    if (-not [Guid]::TryParse($WorkId, [ref]$guid)) {
        throw "The $Kind id '$WorkId' is not a GUID."
    }
    '{0}{1}-{2}' -f ($script:WorkPrefix, $Kind, $guid.ToString('D'))
}

Function Get-PatchwaveWorkDirectory {
    <#
    .SYNOPSIS
    Returns the work folder of a piece of work: %SystemRoot%\Temp\patchwave-<kind>-<id>.

    .DESCRIPTION
    %SystemRoot%\Temp survives the module run (the module's own tmpdir is removed when the module
    exits) and is where SYSTEM can write.

    .PARAMETER Kind
    The kind of work.

    .PARAMETER WorkId
    The work's id (a GUID).
    #>
    [CmdletBinding()]
    [OutputType([String])]
    param (
        [Parameter(Mandatory = $true)]
        [String]
        $Kind,

        [Parameter(Mandatory = $true)]
        [String]
        $WorkId
    )

    Join-Path -Path $env:SystemRoot -ChildPath ('Temp\{0}' -f (Get-PatchwaveWorkName -Kind $Kind -WorkId $WorkId))
}

Function New-PatchwaveWorkDirectory {
    <#
    .SYNOPSIS
    Creates a work folder with its own protected ACL and returns its path.

    .DESCRIPTION
    Full control for SYSTEM (a SYSTEM worker, and services such as WUA that read staged files),
    BUILTIN\Administrators and the connecting user (the S4U worker and every poll), inherited by
    the files in it, nothing inherited from %SystemRoot%\Temp (where any user may create files).
    The ACL is set when the folder is created, so there is no moment without it.

    .PARAMETER Kind
    The kind of work.

    .PARAMETER WorkId
    The work's id (a GUID).

    .PARAMETER UserSid
    The connecting user's SID: the work's owner.

    .PARAMETER GiveUpSeconds
    When, counted from now, the controller will have given up on the work (its timeout and its
    reconnect window); past it the work is stale. 0: the default, 13 hours.
    #>
    [CmdletBinding()]
    [OutputType([String])]
    param (
        [Parameter(Mandatory = $true)]
        [String]
        $Kind,

        [Parameter(Mandatory = $true)]
        [String]
        $WorkId,

        [Parameter(Mandatory = $true)]
        [String]
        $UserSid,

        [Parameter()]
        [Int32]
        $GiveUpSeconds = 0
    )

    $path = Get-PatchwaveWorkDirectory -Kind $Kind -WorkId $WorkId
    if (Test-Path -LiteralPath $path) {
        throw "The work folder '$path' already exists."
    }

    $security = New-Object -TypeName Security.AccessControl.DirectorySecurity
    $security.SetAccessRuleProtection($true, $false)
    $inheritance = [Security.AccessControl.InheritanceFlags]'ContainerInherit, ObjectInherit'
    foreach ($sid in (@('S-1-5-18', 'S-1-5-32-544', $UserSid) | Select-Object -Unique)) {
        $rule = New-Object -TypeName Security.AccessControl.FileSystemAccessRule -ArgumentList @(
            (New-Object -TypeName Security.Principal.SecurityIdentifier -ArgumentList $sid),
            [Security.AccessControl.FileSystemRights]::FullControl,
            $inheritance,
            [Security.AccessControl.PropagationFlags]::None,
            [Security.AccessControl.AccessControlType]::Allow
        )
        $security.AddAccessRule($rule)
    }

    # .NET Framework (Windows PowerShell) has Directory.CreateDirectory(path, security); .NET
    # (PowerShell 7) moved it to FileSystemAclExtensions.
    $frameworkMethod = [IO.Directory].GetMethod('CreateDirectory', [Type[]]@([String], [Security.AccessControl.DirectorySecurity]))
    if ($frameworkMethod) {
        $null = [IO.Directory]::CreateDirectory($path, $security)
    }
    else {
        $null = [IO.FileSystemAclExtensions]::CreateDirectory($security, $path)
    }

    if ($GiveUpSeconds -le 0) {
        $GiveUpSeconds = $script:DefaultGiveUpSeconds
    }
    $now = [DateTime]::UtcNow
    Write-PatchwaveJsonFile -Path (Join-Path -Path $path -ChildPath 'work.json') -InputObject ([Ordered]@{
            kind = $Kind
            work_id = $WorkId
            owner = $UserSid
            created = (Get-PatchwaveTimestamp -Date $now)
            give_up = (Get-PatchwaveTimestamp -Date $now.AddSeconds($GiveUpSeconds))
        })
    $path
}

Function Get-PatchwaveTaskError {
    <#
    .SYNOPSIS
    Returns the Task Scheduler's own error message for a task since a time, or $null.

    .DESCRIPTION
    A task that fails to start leaves its reason in the Microsoft-Windows-TaskScheduler/Operational
    log (when that log is enabled); LastTaskResult alone is only a code.

    .PARAMETER TaskName
    The task's name.

    .PARAMETER Since
    When the task was registered.
    #>
    [CmdletBinding()]
    [OutputType([String])]
    param (
        [Parameter(Mandatory = $true)]
        [String]
        $TaskName,

        [Parameter(Mandatory = $true)]
        [DateTime]
        $Since
    )

    $filter = @{
        LogName = 'Microsoft-Windows-TaskScheduler/Operational'
        Level = 2
        StartTime = $Since
    }
    try {
        $events = Get-WinEvent -FilterHashtable $filter -ErrorAction Stop
        foreach ($taskEvent in $events) {
            if ($taskEvent.Message -like "*$TaskName*") {
                return $taskEvent.Message
            }
        }
    }
    catch {
        Write-Verbose -Message "No Task Scheduler events: $($_.Exception.Message)"
    }
    $null
}

Function Connect-PatchwaveTaskScheduler {
    <#
    .SYNOPSIS
    Returns the Task Scheduler service of this computer, connected; the caller releases it
    (Remove-PatchwaveComObject).

    .DESCRIPTION
    ITaskService.Connect without arguments connects to the local computer as the caller. Its root
    folder is GetFolder('\'), where the work tasks are registered.

    .OUTPUTS
    ITaskService, connected.
    #>
    [CmdletBinding()]
    [OutputType([Object])]
    param ()

    $service = New-Object -ComObject Schedule.Service
    try {
        $service.Connect()
    }
    catch {
        Remove-PatchwaveComObject -InputObject @($service)
        throw
    }
    $service
}

Function Test-PatchwaveTaskRunning {
    <#
    .SYNOPSIS
    Returns whether a registered task has an instance queued or running (IRegisteredTask.State).

    .PARAMETER Task
    The IRegisteredTask.
    #>
    [CmdletBinding()]
    [OutputType([Bool])]
    param (
        [Parameter(Mandatory = $true)]
        [Object]
        $Task
    )

    $Task.State -in @(2, 4)  # TASK_STATE_QUEUED, TASK_STATE_RUNNING
}

Function Get-PatchwaveWorkTask {
    <#
    .SYNOPSIS
    Returns the registered scheduled task of a piece of work, or $null when there is none.

    .DESCRIPTION
    Only ERROR_FILE_NOT_FOUND (0x80070002) from ITaskFolder.GetTask means there is no such task;
    any other error (the Task Scheduler service stopped, access denied) is thrown, so a task
    that cannot be seen is never taken for a task that is gone. .NET's COM interop turns an HRESULT
    it knows into its own exception (0x80070002 into a FileNotFoundException, E_ACCESSDENIED into an
    UnauthorizedAccessException) and others into a COMException; each keeps the code as its HResult,
    so that is what is compared.

    .PARAMETER TaskName
    The task's name.

    .OUTPUTS
    IRegisteredTask, or $null when no task has that name.
    #>
    [CmdletBinding()]
    [OutputType([Object])]
    param (
        [Parameter(Mandatory = $true)]
        [String]
        $TaskName
    )

    $scheduler = Connect-PatchwaveTaskScheduler
    $folder = $null
    try {
        $folder = $scheduler.GetFolder('\')
        $folder.GetTask($TaskName)
    }
    catch {
        $cause = Get-PatchwaveInnerException -ErrorObject $_
        if ((ConvertTo-PatchwaveUInt32 -Value $cause.HResult) -ne $script:TaskNotFound) {
            throw
        }
        $null
    }
    finally {
        Remove-PatchwaveComObject -InputObject @($folder, $scheduler)
    }
}

Function Test-PatchwaveWorkerEnded {
    <#
    .SYNOPSIS
    Returns whether the worker of a work folder has run and ended: it left its result (result.json)
    or the reason it stopped (worker_error.txt).

    .PARAMETER WorkDirectory
    The work folder.
    #>
    [CmdletBinding()]
    [OutputType([Bool])]
    param (
        [Parameter(Mandatory = $true)]
        [String]
        $WorkDirectory
    )

    [IO.File]::Exists((Join-Path -Path $WorkDirectory -ChildPath 'result.json')) -or
    [IO.File]::Exists((Join-Path -Path $WorkDirectory -ChildPath 'worker_error.txt'))
}

Function Start-PatchwaveWorkTask {
    <#
    .SYNOPSIS
    Registers and runs a piece of work's scheduled task; returns who the worker runs as and, when it had
    to fall back to SYSTEM, why.

    .DESCRIPTION
    The task runs the worker outside the WinRM logon, with a token WUA accepts, and is not tied to
    the connection. It runs first as the connecting user with an S4U logon (no password needed,
    highest run level). Whatever keeps that task from starting (registration refused, the launch
    failing, a missing "Log on as a batch job" right that shows only at launch with LastTaskResult
    left at 0x00041303 "has not run") makes it run as SYSTEM instead, as ansible.windows'
    win_updates does; the caller warns. A SYSTEM task that does not start either is thrown, with
    both reasons and the Task Scheduler's own message when its log has one.

    A task has started once its running instance has an EnginePID (returned as pid), or the
    worker has already ended, leaving its result or its error (Test-PatchwaveWorkerEnded: it was
    quick; pid 0), or the task ended with result 0; it has failed once it is neither queued nor
    running otherwise. A worker that failed at once is thus reported by poll with its
    worker_error.txt, never started a second time as SYSTEM. The task has no
    trigger, is hidden, and stops after 12 hours at most; Start-PatchwaveWorker deletes it as soon
    as the worker runs (the process goes on), and the work's cancel step removes it if it is still
    there (Remove-PatchwaveWorkTask).

    .PARAMETER TaskName
    The task's name (patchwave-<kind>-<id>).

    .PARAMETER Description
    The task's description (what the worker does and what removes the task).

    .PARAMETER Path
    The program to run (powershell.exe).

    .PARAMETER Arguments
    Its arguments.

    .PARAMETER WorkingDirectory
    Its working folder: the work folder, where the worker leaves its result or its error.

    .PARAMETER StartSeconds
    How long each identity's task may take to start.

    .PARAMETER SystemOnly
    Run as SYSTEM without trying S4U first: for work that reads a share, which an S4U logon cannot
    ("no access to either the network or to encrypted files", TASK_LOGON_TYPE); SYSTEM reaches it
    with the computer account.
    #>
    [CmdletBinding()]
    [OutputType([System.Collections.Specialized.OrderedDictionary])]
    param (
        [Parameter(Mandatory = $true)]
        [String]
        $TaskName,

        [Parameter(Mandatory = $true)]
        [String]
        $Description,

        [Parameter(Mandatory = $true)]
        [String]
        $Path,

        [Parameter(Mandatory = $true)]
        [String]
        $Arguments,

        [Parameter(Mandatory = $true)]
        [String]
        $WorkingDirectory,

        [Parameter()]
        [Int32]
        $StartSeconds = 60,

        [Parameter()]
        [Switch]
        $SystemOnly
    )

    $schedTaskQueued = 0x00041325       # SCHED_S_TASK_QUEUED
    $schedTaskRunning = 0x00041301      # SCHED_S_TASK_RUNNING

    $scheduler = Connect-PatchwaveTaskScheduler
    $folder = $null
    $definition = $null
    $failures = New-PatchwaveList
    try {
        $folder = $scheduler.GetFolder('\')
        $definition = $scheduler.NewTask(0)
        $definition.RegistrationInfo.Description = $Description
        $definition.Settings.AllowDemandStart = $true
        $definition.Settings.AllowHardTerminate = $true
        $definition.Settings.DisallowStartIfOnBatteries = $false
        $definition.Settings.StopIfGoingOnBatteries = $false
        $definition.Settings.Enabled = $true
        $definition.Settings.Hidden = $true
        $definition.Settings.MultipleInstances = 2  # TASK_INSTANCES_IGNORE_NEW
        $definition.Settings.ExecutionTimeLimit = 'PT12H'
        $action = $definition.Actions.Create(0)  # TASK_ACTION_EXEC
        $action.Path = $Path
        $action.Arguments = $Arguments
        $action.WorkingDirectory = $WorkingDirectory

        $identities = @(@(
                @{ Sid = [Security.Principal.WindowsIdentity]::GetCurrent().User.Value; LogonType = 2; Name = 'S4U' }  # TASK_LOGON_S4U
                @{ Sid = 'S-1-5-18'; LogonType = 5; Name = 'SYSTEM' }  # TASK_LOGON_SERVICE_ACCOUNT (LocalSystem)
            ) | Where-Object { -not $SystemOnly -or $_.Name -eq 'SYSTEM' })
        foreach ($identity in $identities) {
            $definition.Principal.UserId = $identity.Sid
            $definition.Principal.LogonType = $identity.LogonType
            $definition.Principal.RunLevel = 1  # TASK_RUNLEVEL_HIGHEST

            $registered = [DateTime]::Now.AddSeconds(-1)
            $failure = $null
            $failureHResult = $null
            $enginePid = 0
            $task = $null
            $running = $null
            try {
                # 6: TASK_CREATE_OR_UPDATE
                $task = $folder.RegisterTaskDefinition($TaskName, $definition, 6, $null, $null, $identity.LogonType)
                $running = $task.RunEx($null, 2, 0, '')  # TASK_RUN_IGNORE_CONSTRAINTS
                $deadline = [DateTime]::UtcNow.AddSeconds($StartSeconds)
                while ($true) {
                    if (Test-PatchwaveWorkerEnded -WorkDirectory $WorkingDirectory) {
                        break  # it ran and ended already (quick, or failed at once); poll reads what it left
                    }
                    try {
                        $running.Refresh()
                        $enginePid = $running.EnginePID
                    }
                    catch {
                        Write-Verbose -Message "The task instance is gone: $($_.Exception.Message)"
                    }
                    if ($enginePid) {
                        break
                    }
                    $lastResult = $task.LastTaskResult
                    $state = $task.State
                    $waiting = (Test-PatchwaveTaskRunning -Task $task) -or
                    ($lastResult -in @($schedTaskQueued, $schedTaskRunning))
                    if (-not $waiting) {
                        # It may have ended since the first look: its files say it ran, whatever its exit code.
                        if ($lastResult -eq 0 -or (Test-PatchwaveWorkerEnded -WorkDirectory $WorkingDirectory)) {
                            break
                        }
                        $failure = Get-PatchwaveTaskError -TaskName $TaskName -Since $registered
                        if (-not $failure) {
                            $failure = ('The task is not running (state {0}, last result 0x{1:X8}); enable the ' +
                                'Microsoft-Windows-TaskScheduler/Operational log for details.') -f (
                                $state, (ConvertTo-PatchwaveUInt32 -Value $lastResult))
                        }
                        break
                    }
                    if ([DateTime]::UtcNow -ge $deadline) {
                        $failure = 'The task did not start within {0} seconds (state {1}, last result 0x{2:X8}).' -f (
                            $StartSeconds, $state, (ConvertTo-PatchwaveUInt32 -Value $lastResult))
                        break
                    }
                    Start-Sleep -Milliseconds 500
                }
            }
            catch {
                $failure = Format-PatchwaveError -ErrorObject $_
                $failureHResult = Get-PatchwaveErrorHResult -ErrorObject $_
            }
            finally {
                Remove-PatchwaveComObject -InputObject @($running, $task)
            }

            if (-not $failure) {
                $fallback = $null
                if ($failures.Count -gt 0) {
                    $fallback = $failures[0]
                }
                return [Ordered]@{ sid = $identity.Sid; logon = $identity.Name; fallback_reason = $fallback; pid = $enginePid }
            }
            # Not started: make sure a late start cannot run a second worker, then try the next identity.
            $null = Remove-PatchwaveWorkTask -TaskName $TaskName
            $failures.Add(('as {0} ({1}): {2}' -f ($identity.Sid, $identity.Name, $failure)))
        }
        $message = "Could not start the task $TaskName $($failures -join '; ')"
        if ($null -ne $failureHResult) {
            # Keep the Task Scheduler's HRESULT for the caller (COMException takes it signed).
            $signed = [BitConverter]::ToInt32([BitConverter]::GetBytes([UInt32]$failureHResult), 0)
            throw (New-Object -TypeName System.Runtime.InteropServices.COMException -ArgumentList @($message, $signed))
        }
        throw $message
    }
    finally {
        Remove-PatchwaveComObject -InputObject @($definition, $folder, $scheduler)
    }
}

Function Remove-PatchwaveWorkTask {
    <#
    .SYNOPSIS
    Stops a piece of work's scheduled task if it still runs and deletes it; returns whether it is gone.

    .DESCRIPTION
    With -KeepRunning the task is only deleted: its process keeps running (the Task Scheduler does
    not stop a task's process when the task is deleted), which is how a started worker loses its
    task. A task that cannot be read or deleted is not gone ($false).

    .PARAMETER TaskName
    The task's name.

    .PARAMETER KeepRunning
    Delete the task without stopping what it runs.
    #>
    [CmdletBinding()]
    [OutputType([Bool])]
    param (
        [Parameter(Mandatory = $true)]
        [String]
        $TaskName,

        [Parameter()]
        [Switch]
        $KeepRunning
    )

    $task = $null
    $scheduler = $null
    $folder = $null
    try {
        $task = Get-PatchwaveWorkTask -TaskName $TaskName
        if ($null -eq $task) {
            return $true
        }
        if ($task.State -eq 4 -and -not $KeepRunning) {
            $task.Stop(0)  # TASK_STATE_RUNNING; flags are reserved (0)
        }
        $scheduler = Connect-PatchwaveTaskScheduler
        $folder = $scheduler.GetFolder('\')
        $folder.DeleteTask($TaskName, 0)
        $true
    }
    catch {
        Write-Verbose -Message "The task $TaskName could not be removed: $(Format-PatchwaveError -ErrorObject $_)"
        $false
    }
    finally {
        Remove-PatchwaveComObject -InputObject @($task, $folder, $scheduler)
    }
}

Function Get-PatchwaveWorkerProcess {
    <#
    .SYNOPSIS
    Returns the worker process of a work folder while it still runs, else $null; throws when its
    records exist but none can be read.

    .DESCRIPTION
    The worker is the process worker.json names (written by the worker itself) or, before the
    worker has written it, launch.json (written when it was started): the newest record read
    decides. The process id and its start time (Get-PatchwaveProcessRecord) must both match, so a
    reused process id is not taken for the worker. When the start time cannot be read (the record
    has none, or this token may not query the process), a live process with that id counts as the
    worker: a wrong "running" costs a poll, a wrong "lost" costs the work. For the same reason a
    record that exists but cannot be read (being replaced, not JSON) is skipped, never read as
    "no worker"; when no record could be read at all, this throws and the caller decides.

    .PARAMETER WorkDirectory
    The work folder.
    #>
    [CmdletBinding()]
    [OutputType([System.Diagnostics.Process])]
    param (
        [Parameter(Mandatory = $true)]
        [String]
        $WorkDirectory
    )

    $unreadable = $null
    foreach ($name in @('worker.json', 'launch.json')) {
        $record = $null
        try {
            $record = ConvertFrom-Json -InputObject ([IO.File]::ReadAllText((Join-Path -Path $WorkDirectory -ChildPath $name)))
        }
        catch {
            $inner = Get-PatchwaveInnerException -ErrorObject $_
            if ($inner -isnot [IO.FileNotFoundException] -and $inner -isnot [IO.DirectoryNotFoundException]) {
                $unreadable = "${name}: $(Format-PatchwaveError -ErrorObject $_)"
            }
        }
        if ($null -eq $record -or -not $record.pid) {
            continue
        }
        $process = Get-Process -Id ([Int32]$record.pid) -ErrorAction SilentlyContinue
        if (-not $process) {
            return $null
        }
        $recorded = $record.process_started
        $live = (Get-PatchwaveProcessRecord -Process $process).process_started
        if ($null -eq $live -or $null -eq $recorded -or $recorded -is [String] -or [Int64]$recorded -eq $live) {
            return $process  # a record of older code kept its start time as text: unknown, as when it has none
        }
        return $null
    }
    if ($unreadable) {
        throw "The worker's record cannot be read ($unreadable)."
    }
    $null
}

Function Write-PatchwaveLaunchRecord {
    <#
    .SYNOPSIS
    Records the worker process as started (launch.json: Get-PatchwaveProcessRecord) in its work folder.

    .DESCRIPTION
    Once this is written the task can go: poll and the staleness rule tell a running worker by
    this record until the worker writes its own worker.json. A process already gone is recorded
    by its id alone.

    .PARAMETER WorkDirectory
    The work folder.

    .PARAMETER ProcessId
    The worker's process id.
    #>
    [CmdletBinding()]
    param (
        [Parameter(Mandatory = $true)]
        [String]
        $WorkDirectory,

        [Parameter(Mandatory = $true)]
        [Int32]
        $ProcessId
    )

    $record = [Ordered]@{ pid = $ProcessId; process_started = $null }
    $process = Get-Process -Id $ProcessId -ErrorAction SilentlyContinue
    if ($process) {
        $record = Get-PatchwaveProcessRecord -Process $process
    }
    Write-PatchwaveJsonFile -Path (Join-Path -Path $WorkDirectory -ChildPath 'launch.json') -InputObject $record
}

Function Start-PatchwaveDetachedProcess {
    <#
    .SYNOPSIS
    Starts a process through WMI (Win32_Process.Create) and returns its process id.

    .DESCRIPTION
    A process WMI creates runs with the caller's token (under become, the become user's) but is not
    a child of the WinRM shell, so it is not ended with the shell's job when the connection goes:
    the in-process worker runs detached and start returns at once, as ansible.windows does for
    become.

    .PARAMETER CommandLine
    The full command line (program path first).

    .PARAMETER WorkingDirectory
    The process's current folder.
    #>
    [CmdletBinding()]
    [OutputType([Int32])]
    param (
        [Parameter(Mandatory = $true)]
        [String]
        $CommandLine,

        [Parameter(Mandatory = $true)]
        [String]
        $WorkingDirectory
    )

    $arguments = @{ CommandLine = $CommandLine; CurrentDirectory = $WorkingDirectory }
    $created = Invoke-CimMethod -ClassName Win32_Process -MethodName Create -Arguments $arguments
    # 0 success, 2 access denied, 3 insufficient privilege, 8 unknown failure, 9 path not found, 21 invalid parameter
    if ($created.ReturnValue -ne 0) {
        throw "Win32_Process.Create failed with return value $($created.ReturnValue) for: $CommandLine"
    }
    [Int32]$created.ProcessId
}

Function Get-PatchwaveWorkRecord {
    <#
    .SYNOPSIS
    Returns work.json of a work folder as {kind, work_id, owner, created, give_up}, or $null.

    .PARAMETER WorkDirectory
    The work folder.
    #>
    [CmdletBinding()]
    [OutputType([Object])]
    param (
        [Parameter(Mandatory = $true)]
        [String]
        $WorkDirectory
    )

    $path = Join-Path -Path $WorkDirectory -ChildPath 'work.json'
    try {
        if ([IO.File]::Exists($path)) {
            return ConvertFrom-Json -InputObject ([IO.File]::ReadAllText($path))
        }
    }
    catch {
        Write-Verbose -Message "work.json of '$WorkDirectory' cannot be read: $($_.Exception.Message)"
    }
    $null
}

Function Update-PatchwaveWorkGiveUp {
    <#
    .SYNOPSIS
    Moves the give-up time of a piece of work to this many seconds from now (each poll renews it).

    .DESCRIPTION
    Work is wanted as long as its controller polls. A poll sets the give-up time to now plus what the
    controller may still need before its next poll (the poll's wait and its reconnect window), so work
    whose controller vanished is removed by the next start of any host module that long after the last
    poll, not after the work's whole timeout.

    .PARAMETER WorkDirectory
    The work folder.

    .PARAMETER Seconds
    Seconds from now; 0 or less changes nothing.
    #>
    [CmdletBinding()]
    param (
        [Parameter(Mandatory = $true)]
        [String]
        $WorkDirectory,

        [Parameter(Mandatory = $true)]
        [Int32]
        $Seconds
    )

    $record = Get-PatchwaveWorkRecord -WorkDirectory $WorkDirectory
    if ($Seconds -le 0 -or $null -eq $record) {
        return
    }
    # PowerShell 6 and later read ISO 8601 text from JSON as DateTime: write it back in one form.
    $now = [DateTime]::UtcNow
    $created = ConvertFrom-PatchwaveTimestamp -Text $record.created -Default $now
    Write-PatchwaveJsonFile -Path (Join-Path -Path $WorkDirectory -ChildPath 'work.json') -InputObject ([Ordered]@{
            kind = [String]$record.kind
            work_id = [String]$record.work_id
            owner = [String]$record.owner
            created = (Get-PatchwaveTimestamp -Date $created)
            give_up = (Get-PatchwaveTimestamp -Date $now.AddSeconds($Seconds))
        })
}

Function ConvertFrom-PatchwaveTimestamp {
    <#
    .SYNOPSIS
    Returns a UTC DateTime from ISO 8601 UTC text (Get-PatchwaveTimestamp), or Default when the text
    is not one.

    .PARAMETER Text
    The timestamp.

    .PARAMETER Default
    What to return for text that is not a timestamp.
    #>
    [CmdletBinding()]
    [OutputType([DateTime])]
    param (
        [Parameter(Mandatory = $true)]
        [AllowNull()]
        [AllowEmptyString()]
        [String]
        $Text,

        [Parameter(Mandatory = $true)]
        [DateTime]
        $Default
    )

    $parsed = [DateTime]::MinValue
    $styles = [Globalization.DateTimeStyles]'AdjustToUniversal, AssumeUniversal'
    if ([DateTime]::TryParse($Text, [Globalization.CultureInfo]::InvariantCulture, $styles, [ref]$parsed)) {
        return $parsed
    }
    $Default
}

Function Test-PatchwaveWorkRunning {
    <#
    .SYNOPSIS
    Returns whether a piece of work's worker still runs: its task queued or running, or its worker
    process alive.

    .DESCRIPTION
    A task the Task Scheduler cannot show (any error but "no such task") and a worker record that
    exists but cannot be read count as running: a wrong "running" costs a poll, a wrong "lost" or
    "abandoned" costs the work.

    .PARAMETER WorkDirectory
    The work folder.

    .PARAMETER TaskName
    The work's task name.
    #>
    [CmdletBinding()]
    [OutputType([Bool])]
    param (
        [Parameter(Mandatory = $true)]
        [String]
        $WorkDirectory,

        [Parameter(Mandatory = $true)]
        [String]
        $TaskName
    )

    try {
        $task = Get-PatchwaveWorkTask -TaskName $TaskName
    }
    catch {
        Write-Verbose -Message "The task $TaskName cannot be read: $(Format-PatchwaveError -ErrorObject $_)"
        return $true
    }
    if ($null -ne $task) {
        try {
            if (Test-PatchwaveTaskRunning -Task $task) {
                return $true
            }
        }
        finally {
            Remove-PatchwaveComObject -InputObject @($task)
        }
    }
    try {
        return $null -ne (Get-PatchwaveWorkerProcess -WorkDirectory $WorkDirectory)
    }
    catch {
        Write-Verbose -Message $_.Exception.Message
        return $true
    }
}

Function Get-PatchwaveWork {
    <#
    .SYNOPSIS
    Returns every piece of work on the host, of any kind and owner: a list of {kind, work_id, owner,
    started, give_up_at, state, alive, task_name, folder}.

    .DESCRIPTION
    The one staleness rule. state is:
    - abandoned: past its give-up time (the controller has surely given up on it), or its worker was
      recorded (launch.json, worker.json) and ended without a result; abandoned work is stale;
    - finished: its result waits for the controller's acknowledgement (cancel);
    - running: its worker runs, or is still being started (not recorded yet).
    alive says whether its task or worker process still runs (an abandoned worker may). started and
    give_up_at come from work.json; a folder without one has its creation time, the default give-up
    (13 hours) and no owner. A worker whose task or record cannot be read counts as alive
    (Test-PatchwaveWorkRunning); a folder that cannot be judged at all is left out, so that nothing
    is removed on a guess.
    #>
    [CmdletBinding()]
    [OutputType([System.Collections.Generic.List[Object]])]
    param ()

    $found = New-PatchwaveList
    $root = Join-Path -Path $env:SystemRoot -ChildPath 'Temp'
    $pattern = '^{0}([a-z]+)-([0-9a-fA-F]{{8}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{12}})$' -f (
        [Regex]::Escape($script:WorkPrefix))
    $now = [DateTime]::UtcNow
    foreach ($folder in @(Get-ChildItem -LiteralPath $root -Directory -Filter "$($script:WorkPrefix)*" -ErrorAction SilentlyContinue)) {
        $match = [Regex]::Match($folder.Name, $pattern)
        if (-not $match.Success) {
            continue
        }
        try {
            $record = Get-PatchwaveWorkRecord -WorkDirectory $folder.FullName
            $owner = $null
            $started = $folder.CreationTimeUtc
            $giveUp = $null
            if ($record) {
                $owner = [String]$record.owner
                $started = ConvertFrom-PatchwaveTimestamp -Text $record.created -Default $started
                $giveUp = ConvertFrom-PatchwaveTimestamp -Text $record.give_up -Default $started.AddSeconds($script:DefaultGiveUpSeconds)
            }
            if ($null -eq $giveUp) {
                $giveUp = $started.AddSeconds($script:DefaultGiveUpSeconds)
            }
            $alive = Test-PatchwaveWorkRunning -WorkDirectory $folder.FullName -TaskName $folder.Name
            $hasResult = [IO.File]::Exists((Join-Path -Path $folder.FullName -ChildPath 'result.json'))
            $recorded = [IO.File]::Exists((Join-Path -Path $folder.FullName -ChildPath 'launch.json')) -or
            [IO.File]::Exists((Join-Path -Path $folder.FullName -ChildPath 'worker.json'))
            $state = 'running'
            if ($now -ge $giveUp -or ($recorded -and -not $alive -and -not $hasResult)) {
                $state = 'abandoned'
            }
            elseif ($hasResult) {
                $state = 'finished'
            }
            $found.Add([Ordered]@{
                    kind = $match.Groups[1].Value
                    work_id = $match.Groups[2].Value
                    owner = $owner
                    started = (Get-PatchwaveTimestamp -Date $started)
                    give_up_at = (Get-PatchwaveTimestamp -Date $giveUp)
                    state = $state
                    alive = $alive
                    task_name = $folder.Name
                    folder = $folder.FullName
                })
        }
        catch {
            Write-Verbose -Message "The work in '$($folder.FullName)' cannot be judged: $(Format-PatchwaveError -ErrorObject $_)"
        }
    }
    return , $found
}

Function Remove-PatchwaveStaleWork {
    <#
    .SYNOPSIS
    Removes every stale piece of work on the host (task and folder), of any kind; returns the
    names removed.

    .DESCRIPTION
    Stale: abandoned, as Get-PatchwaveWork tells it (past its give-up time, or its recorded worker
    ended without a result). A result waiting to be acknowledged keeps its work until the give-up
    time; a work whose worker was never recorded (still staging, never started) lives until then
    too. A stale worker that still runs is stopped only when it is of the caller's kind and owner:
    a live worker of another kind or owner is never touched, its folder and task neither.

    .PARAMETER Kind
    The caller's kind of work.

    .PARAMETER Owner
    The caller's SID.
    #>
    [CmdletBinding()]
    [OutputType([String[]])]
    param (
        [Parameter(Mandatory = $true)]
        [String]
        $Kind,

        [Parameter(Mandatory = $true)]
        [String]
        $Owner
    )

    $removed = New-PatchwaveList
    foreach ($work in (Get-PatchwaveWork)) {
        if ($work.state -ne 'abandoned') {
            continue
        }
        $mine = ($work.kind -eq $Kind) -and ($work.owner -eq $Owner)
        if ($work.alive -and -not $mine) {
            continue  # a live worker of another kind or owner is never touched
        }
        # The same removal as an acknowledged piece of work: task, process (waited for), folder (retried).
        $null = Stop-PatchwaveWorker -WorkDirectory $work.folder -TaskName $work.task_name
        if (-not (Test-Path -LiteralPath $work.folder)) {
            $removed.Add($work.task_name)
        }
    }
    , [String[]]$removed.ToArray()
}

Function Get-PatchwaveWorkerFailure {
    <#
    .SYNOPSIS
    Returns what is known of a worker that ended without a result: {error, last_task_result}.

    .DESCRIPTION
    error is the text the worker's bootstrap wrote to worker_error.txt (null when it wrote none:
    killed, or the host restarted); last_task_result is the task's LastTaskResult (unsigned; the
    worker's exit code, or a Task Scheduler code), null when the task is gone.

    .PARAMETER WorkDirectory
    The work folder.

    .PARAMETER TaskName
    The work's task name.
    #>
    [CmdletBinding()]
    [OutputType([System.Collections.Specialized.OrderedDictionary])]
    param (
        [Parameter(Mandatory = $true)]
        [String]
        $WorkDirectory,

        [Parameter(Mandatory = $true)]
        [String]
        $TaskName
    )

    $failure = [Ordered]@{ error = $null; last_task_result = $null }
    $errorPath = Join-Path -Path $WorkDirectory -ChildPath 'worker_error.txt'
    try {
        if ([IO.File]::Exists($errorPath)) {
            $failure.error = ([IO.File]::ReadAllText($errorPath)).Trim()
        }
    }
    catch {
        $failure.error = "worker_error.txt could not be read: $($_.Exception.Message)"
    }
    $task = $null
    try {
        $task = Get-PatchwaveWorkTask -TaskName $TaskName
        if ($null -ne $task) {
            $failure.last_task_result = ConvertTo-PatchwaveUInt32 -Value $task.LastTaskResult
        }
    }
    catch {
        Write-Verbose -Message "The task $TaskName cannot be read: $(Format-PatchwaveError -ErrorObject $_)"
    }
    finally {
        Remove-PatchwaveComObject -InputObject @($task)
    }
    $failure
}

Function Get-PatchwaveWorkState {
    <#
    .SYNOPSIS
    Returns the state of a piece of work: done (result.json exists), running (its task or worker process
    still runs) or lost (neither).

    .PARAMETER WorkDirectory
    The work folder.

    .PARAMETER TaskName
    The work's task name.
    #>
    [CmdletBinding()]
    [OutputType([String])]
    param (
        [Parameter(Mandatory = $true)]
        [String]
        $WorkDirectory,

        [Parameter(Mandatory = $true)]
        [String]
        $TaskName
    )

    $resultPath = Join-Path -Path $WorkDirectory -ChildPath 'result.json'
    if ([IO.File]::Exists($resultPath)) {
        return 'done'
    }
    if (-not [IO.Directory]::Exists($WorkDirectory)) {
        return 'lost'
    }
    if (Test-PatchwaveWorkRunning -WorkDirectory $WorkDirectory -TaskName $TaskName) {
        return 'running'
    }
    # The worker may have written its result and ended between the first look and now.
    if ([IO.File]::Exists($resultPath)) {
        return 'done'
    }
    'lost'
}

Function Start-PatchwaveWorker {
    <#
    .SYNOPSIS
    Starts a piece of work in its folder: writes params.json and worker.ps1, then runs the worker in
    this process or starts its scheduled task. Returns {worker, sid, logon, fallback_reason}.

    .DESCRIPTION
    The folder must exist (New-PatchwaveWorkDirectory), so the caller can stage files in it first.
    With -InProcess the caller's token is one the work accepts (become, a batch or service logon):
    the worker is started with it through WMI, detached from the WinRM shell
    (Start-PatchwaveDetachedProcess), and this returns at once. Otherwise Start-PatchwaveWorkTask
    runs it from a scheduled task, S4U then SYSTEM (SYSTEM only with -SystemOnly); fallback_reason
    says why S4U did not do (the caller warns), and is null when it did. Either way the worker
    process is recorded in launch.json, and a task whose worker runs is deleted at once (the worker
    keeps running).

    .PARAMETER WorkDirectory
    The work folder.

    .PARAMETER TaskName
    The work's task name (Get-PatchwaveWorkName).

    .PARAMETER Description
    The task's description.

    .PARAMETER Parameters
    What the entry function gets (written to params.json; nested dictionaries and lists).

    .PARAMETER Functions
    The kind's functions the worker calls, its entry function among them.

    .PARAMETER EntryPoint
    The kind's entry function: <EntryPoint> -WorkDirectory <folder> -Parameters <object> returns the
    result.

    .PARAMETER InProcess
    Run the worker in this process.

    .PARAMETER SystemOnly
    Run the scheduled task as SYSTEM only, never S4U (Start-PatchwaveWorkTask -SystemOnly).
    #>
    [CmdletBinding()]
    [OutputType([System.Collections.Specialized.OrderedDictionary])]
    param (
        [Parameter(Mandatory = $true)]
        [String]
        $WorkDirectory,

        [Parameter(Mandatory = $true)]
        [String]
        $TaskName,

        [Parameter(Mandatory = $true)]
        [String]
        $Description,

        [Parameter(Mandatory = $true)]
        [Collections.IDictionary]
        $Parameters,

        [Parameter(Mandatory = $true)]
        [String[]]
        $Functions,

        [Parameter(Mandatory = $true)]
        [String]
        $EntryPoint,

        [Parameter()]
        [Switch]
        $InProcess,

        [Parameter()]
        [Switch]
        $SystemOnly
    )

    Write-PatchwaveJsonFile -Path (Join-Path -Path $WorkDirectory -ChildPath 'params.json') -InputObject $Parameters
    [IO.File]::WriteAllText(
        (Join-Path -Path $WorkDirectory -ChildPath 'worker.ps1'),
        (Get-PatchwaveWorkerScript -Functions $Functions),
        (New-Object -TypeName Text.UTF8Encoding -ArgumentList $true)
    )

    $powershell = Join-Path -Path $env:SystemRoot -ChildPath 'System32\WindowsPowerShell\v1.0\powershell.exe'
    $arguments = Get-PatchwaveWorkerCommand -WorkDirectory $WorkDirectory -EntryPoint $EntryPoint
    if ($InProcess) {
        $processId = Start-PatchwaveDetachedProcess -CommandLine "`"$powershell`" $arguments" -WorkingDirectory $WorkDirectory
        try {
            Write-PatchwaveLaunchRecord -WorkDirectory $WorkDirectory -ProcessId $processId
        }
        catch {
            # Unrecorded, nothing could tell the worker runs or stop it later: stop it now.
            Stop-Process -Id $processId -Force -ErrorAction SilentlyContinue
            throw
        }
        $userSid = [Security.Principal.WindowsIdentity]::GetCurrent().User.Value
        return [Ordered]@{ worker = 'in_process'; sid = $userSid; logon = 'current'; fallback_reason = $null }
    }

    $taskParameters = @{
        TaskName = $TaskName
        Description = $Description
        Path = $powershell
        Arguments = $arguments
        WorkingDirectory = $WorkDirectory
        SystemOnly = $SystemOnly
    }
    $started = Start-PatchwaveWorkTask @taskParameters
    if ($started.pid) {
        Write-PatchwaveLaunchRecord -WorkDirectory $WorkDirectory -ProcessId $started.pid
    }
    # The worker runs (or has already finished): its task is no longer needed; the process goes on.
    $null = Remove-PatchwaveWorkTask -TaskName $TaskName -KeepRunning
    [Ordered]@{
        worker = 'scheduled_task'
        sid = $started.sid
        logon = $started.logon
        fallback_reason = $started.fallback_reason
    }
}

Function Wait-PatchwaveWork {
    <#
    .SYNOPSIS
    Waits up to a number of seconds for a piece of work to end; returns its state (done, running
    or lost) as Get-PatchwaveWorkState tells it.

    .DESCRIPTION
    A long poll: the controller asks less often, each module run costs a PowerShell start and an
    event-log entry.

    .PARAMETER WorkDirectory
    The work folder.

    .PARAMETER TaskName
    The work's task name.

    .PARAMETER Seconds
    The longest wait; 0 looks once.
    #>
    [CmdletBinding()]
    [OutputType([String])]
    param (
        [Parameter(Mandatory = $true)]
        [String]
        $WorkDirectory,

        [Parameter(Mandatory = $true)]
        [String]
        $TaskName,

        [Parameter()]
        [Int32]
        $Seconds = 0
    )

    $deadline = [DateTime]::UtcNow.AddSeconds([Math]::Max(0, $Seconds))
    while ($true) {
        $state = Get-PatchwaveWorkState -WorkDirectory $WorkDirectory -TaskName $TaskName
        if ($state -ne 'running' -or [DateTime]::UtcNow -ge $deadline) {
            return $state
        }
        Start-Sleep -Milliseconds 500
    }
}

Function Read-PatchwaveWorkFile {
    <#
    .SYNOPSIS
    Returns the text of a file of the work folder (result.json, progress.json), or $null when it
    does not exist.

    .PARAMETER WorkDirectory
    The work folder.

    .PARAMETER Name
    The file's name.
    #>
    [CmdletBinding()]
    [OutputType([String])]
    param (
        [Parameter(Mandatory = $true)]
        [String]
        $WorkDirectory,

        [Parameter(Mandatory = $true)]
        [ValidateSet('result.json', 'progress.json', 'worker.json', 'launch.json', 'work.json', 'params.json')]
        [String]
        $Name
    )

    $path = Join-Path -Path $WorkDirectory -ChildPath $Name
    if (-not [IO.File]::Exists($path)) {
        return $null
    }
    [IO.File]::ReadAllText($path)
}

Function Stop-PatchwaveWorker {
    <#
    .SYNOPSIS
    Acknowledges or cancels a piece of work: deletes its task, stops its worker process if it still
    runs, removes its folder. Returns whether nothing of it is left.

    .PARAMETER WorkDirectory
    The work folder.

    .PARAMETER TaskName
    The work's task name.
    #>
    [CmdletBinding()]
    [OutputType([Bool])]
    param (
        [Parameter(Mandatory = $true)]
        [String]
        $WorkDirectory,

        [Parameter(Mandatory = $true)]
        [String]
        $TaskName
    )

    $taskGone = Remove-PatchwaveWorkTask -TaskName $TaskName
    $process = $null
    try {
        $process = Get-PatchwaveWorkerProcess -WorkDirectory $WorkDirectory
    }
    catch {
        Write-Verbose -Message "No worker process is stopped: $($_.Exception.Message)"
    }
    if ($process) {
        Stop-Process -Id $process.Id -Force -ErrorAction SilentlyContinue
        try {
            Wait-Process -Id $process.Id -Timeout 10 -ErrorAction Stop
        }
        catch {
            # It ended between Stop-Process and Wait-Process.
            $null = $_
        }
    }
    # A worker killed just now may hold its files for a moment.
    for ($attempt = 0; $attempt -lt 5 -and (Test-Path -LiteralPath $WorkDirectory); $attempt++) {
        try {
            Remove-Item -LiteralPath $WorkDirectory -Recurse -Force
        }
        catch {
            Start-Sleep -Seconds 1
        }
    }
    $taskGone -and -not (Test-Path -LiteralPath $WorkDirectory)
}

Export-ModuleMember -Function @(
    'ConvertTo-PatchwaveUInt32'
    'Get-PatchwaveInnerException'
    'Get-PatchwaveErrorHResult'
    'Format-PatchwaveError'
    'Remove-PatchwaveComObject'
    'Get-PatchwaveTimestamp'
    'New-PatchwaveList'
    'Write-PatchwaveJsonFile'
    'Update-PatchwaveWorkGiveUp'
    'Write-PatchwaveProgress'
    'Get-PatchwaveProcessRecord'
    'Invoke-PatchwaveWorker'
    'Get-PatchwaveWorkerScript'
    'Get-PatchwaveWorkerCommand'
    'Get-PatchwaveWorkName'
    'Get-PatchwaveWorkDirectory'
    'New-PatchwaveWorkDirectory'
    'Get-PatchwaveTaskError'
    'Connect-PatchwaveTaskScheduler'
    'Test-PatchwaveTaskRunning'
    'Get-PatchwaveWorkTask'
    'Test-PatchwaveWorkerEnded'
    'Start-PatchwaveWorkTask'
    'Remove-PatchwaveWorkTask'
    'Get-PatchwaveWorkerProcess'
    'Write-PatchwaveLaunchRecord'
    'Start-PatchwaveDetachedProcess'
    'Get-PatchwaveWorkRecord'
    'ConvertFrom-PatchwaveTimestamp'
    'Test-PatchwaveWorkRunning'
    'Get-PatchwaveWork'
    'Remove-PatchwaveStaleWork'
    'Get-PatchwaveWorkerFailure'
    'Get-PatchwaveWorkState'
    'Start-PatchwaveWorker'
    'Wait-PatchwaveWork'
    'Read-PatchwaveWorkFile'
    'Stop-PatchwaveWorker'
)
