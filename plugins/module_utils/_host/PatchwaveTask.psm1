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

# When the controller does not say when it gives up: the task's 12-hour limit and an hour more.
$script:DefaultGiveUpSeconds = 46800

# Functions every worker.ps1 gets, besides the kind's own (Start-PatchwaveWorker -Functions).
$script:TaskWorkerFunctions = @(
    'ConvertTo-PatchwaveUInt32'
    'Get-PatchwaveErrorHResult'
    'Format-PatchwaveError'
    'Remove-PatchwaveComObject'
    'Get-PatchwaveTimestamp'
    'New-PatchwaveList'
    'Write-PatchwaveJsonFile'
    'Write-PatchwaveProgress'
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

Function Get-PatchwaveErrorHResult {
    <#
    .SYNOPSIS
    Returns the HRESULT of a COM error (unsigned), or $null when the error is not a COM error.

    .DESCRIPTION
    PowerShell wraps a failing COM call in a MethodInvocationException; the COMException inside it
    carries the WUA HRESULT (for example WU_E_INVALID_CRITERIA 0x80240032). Every .NET exception has
    an HResult too (0x80131501 for a PowerShell throw, 0x80070002 for a missing file), but only a
    COMException's is a code WUA or the Task Scheduler returned, so no other is reported as one;
    Format-PatchwaveError names those errors by their type instead.

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

    $exception = $ErrorObject
    if ($exception -is [System.Management.Automation.ErrorRecord]) {
        $exception = $exception.Exception
    }
    $hresult = $null
    while ($null -ne $exception) {
        if ($exception -is [System.Runtime.InteropServices.COMException]) {
            $hresult = $exception.ErrorCode
            break
        }
        $exception = $exception.InnerException
    }
    if ($null -eq $hresult) {
        return $null
    }
    ConvertTo-PatchwaveUInt32 -Value $hresult
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
    $innermost = $exception
    while ($null -ne $innermost.InnerException) {
        if ($innermost -is [System.Runtime.InteropServices.COMException]) {
            break
        }
        $innermost = $innermost.InnerException
    }
    if ($innermost -is [System.Runtime.InteropServices.COMException]) {
        return [String]$innermost.Message  # WUA's or the Task Scheduler's own text, without PowerShell's wrapping
    }
    '{0} ({1})' -f ($exception.Message, $innermost.GetType().FullName)
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

    $process = Get-Process -Id $PID
    $identity = [Security.Principal.WindowsIdentity]::GetCurrent()
    Write-PatchwaveJsonFile -Path (Join-Path -Path $WorkDirectory -ChildPath 'worker.json') -InputObject ([Ordered]@{
            pid = $PID
            process_started = (Get-PatchwaveTimestamp -Date $process.StartTime)
            user = $identity.Name
            user_sid = $identity.User.Value
        })
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

Function Get-PatchwaveWorkTask {
    <#
    .SYNOPSIS
    Returns the registered scheduled task of a piece of work, or $null.

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

    $scheduler = New-Object -ComObject Schedule.Service
    $folder = $null
    try {
        $scheduler.Connect()
        $folder = $scheduler.GetFolder('\')
        $folder.GetTask($TaskName)
    }
    catch {
        $null
    }
    finally {
        Remove-PatchwaveComObject -InputObject @($folder, $scheduler)
    }
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
    worker's result file exists (it was quick; pid 0); it has failed once it is neither queued nor
    running. The task has no
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
    Its working folder (the work folder).

    .PARAMETER ResultPath
    The worker's result file: a worker that has already finished by the time the task is checked
    has started.

    .PARAMETER StartSeconds
    How long each identity's task may take to start.
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

        [Parameter(Mandatory = $true)]
        [String]
        $ResultPath,

        [Parameter()]
        [Int32]
        $StartSeconds = 60
    )

    $taskStateQueued = 2
    $taskStateRunning = 4
    $schedTaskQueued = 0x00041325       # SCHED_S_TASK_QUEUED
    $schedTaskRunning = 0x00041301      # SCHED_S_TASK_RUNNING

    $scheduler = New-Object -ComObject Schedule.Service
    $folder = $null
    $definition = $null
    $failures = New-PatchwaveList
    try {
        $scheduler.Connect()
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

        $identities = @(
            @{ Sid = [Security.Principal.WindowsIdentity]::GetCurrent().User.Value; LogonType = 2; Name = 'S4U' }  # TASK_LOGON_S4U
            @{ Sid = 'S-1-5-18'; LogonType = 5; Name = 'SYSTEM' }  # TASK_LOGON_SERVICE_ACCOUNT (LocalSystem)
        )
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
                    if ([IO.File]::Exists($ResultPath)) {
                        break
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
                    $waiting = ($state -in @($taskStateQueued, $taskStateRunning)) -or
                    ($lastResult -in @($schedTaskQueued, $schedTaskRunning))
                    if (-not $waiting) {
                        if ($lastResult -eq 0) {
                            break  # it ran and ended already; poll reads what it left
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
    task.

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

    $task = Get-PatchwaveWorkTask -TaskName $TaskName
    if ($null -eq $task) {
        return $true
    }
    $scheduler = $null
    $folder = $null
    try {
        if ($task.State -eq 4 -and -not $KeepRunning) {
            $task.Stop(0)  # TASK_STATE_RUNNING; flags are reserved (0)
        }
        $scheduler = New-Object -ComObject Schedule.Service
        $scheduler.Connect()
        $folder = $scheduler.GetFolder('\')
        $folder.DeleteTask($TaskName, 0)
        $true
    }
    catch {
        $false
    }
    finally {
        Remove-PatchwaveComObject -InputObject @($task, $folder, $scheduler)
    }
}

Function Get-PatchwaveWorkerProcess {
    <#
    .SYNOPSIS
    Returns the worker process of a work folder while it still runs, else $null.

    .DESCRIPTION
    The worker is the process worker.json names (written by the worker itself) or, before the
    worker has written it, launch.json (written when it was started). The process id and its start
    time must both match, so a reused process id is not taken for the worker. When the start time
    cannot be read (the record has none, or this token may not query the process), a live process
    with that id counts as the worker: a wrong "running" costs a poll, a wrong "lost" costs the work.

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

    foreach ($name in @('worker.json', 'launch.json')) {
        $path = Join-Path -Path $WorkDirectory -ChildPath $name
        if (-not [IO.File]::Exists($path)) {
            continue
        }
        try {
            $record = ConvertFrom-Json -InputObject ([IO.File]::ReadAllText($path))
            $process = Get-Process -Id ([Int32]$record.pid) -ErrorAction Stop
        }
        catch {
            Write-Verbose -Message "No worker process from ${name}: $($_.Exception.Message)"
            return $null  # the newest record decides
        }
        $started = $null
        try {
            $started = Get-PatchwaveTimestamp -Date $process.StartTime
        }
        catch {
            Write-Verbose -Message "The start time of process $($process.Id) cannot be read: $($_.Exception.Message)"
        }
        if ((-not $started) -or (-not $record.process_started) -or ($started -eq [String]$record.process_started)) {
            return $process
        }
        return $null
    }
    $null
}

Function Write-PatchwaveLaunchRecord {
    <#
    .SYNOPSIS
    Records the worker process as started (launch.json: pid and start time) in its work folder.

    .DESCRIPTION
    Once this is written the task can go: poll and the staleness rule tell a running worker by
    this record until the worker writes its own worker.json.

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

    $process = Get-Process -Id $ProcessId -ErrorAction SilentlyContinue
    $record = [Ordered]@{ pid = $ProcessId; process_started = $null }
    if ($process) {
        try {
            $record.process_started = Get-PatchwaveTimestamp -Date $process.StartTime
        }
        catch {
            # This token may not query the process (a SYSTEM worker); the worker records itself.
            Write-Verbose -Message "The start time of process ${ProcessId} cannot be read: $($_.Exception.Message)"
        }
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

Function Remove-PatchwaveStaleWork {
    <#
    .SYNOPSIS
    Removes every stale piece of work on the host (task and folder), of any kind; returns the
    names removed.

    .DESCRIPTION
    Stale: past its give-up time (work.json; a folder without one gets its creation time and the
    default 13 hours), or its worker process was recorded (launch.json, worker.json) and is gone
    and it left no result. A result waiting to be acknowledged keeps its work until the give-up
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
    $root = Join-Path -Path $env:SystemRoot -ChildPath 'Temp'
    $pattern = '^{0}([a-z]+)-([0-9a-fA-F]{{8}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{12}})$' -f (
        [Regex]::Escape($script:WorkPrefix))
    $folders = @(Get-ChildItem -LiteralPath $root -Directory -Filter "$($script:WorkPrefix)*" -ErrorAction SilentlyContinue)
    $now = [DateTime]::UtcNow
    foreach ($folder in $folders) {
        $match = [Regex]::Match($folder.Name, $pattern)
        if (-not $match.Success) {
            continue
        }
        $workKind = $match.Groups[1].Value
        $record = Get-PatchwaveWorkRecord -WorkDirectory $folder.FullName
        $workOwner = $null
        $giveUp = $folder.CreationTimeUtc.AddSeconds($script:DefaultGiveUpSeconds)
        if ($record) {
            $workOwner = [String]$record.owner
            $parsed = [DateTime]::MinValue
            $styles = [Globalization.DateTimeStyles]'AdjustToUniversal, AssumeUniversal'
            if ([DateTime]::TryParse([String]$record.give_up, [Globalization.CultureInfo]::InvariantCulture, $styles, [ref]$parsed)) {
                $giveUp = $parsed
            }
        }
        $hasResult = [IO.File]::Exists((Join-Path -Path $folder.FullName -ChildPath 'result.json'))
        $recorded = [IO.File]::Exists((Join-Path -Path $folder.FullName -ChildPath 'launch.json')) -or
        [IO.File]::Exists((Join-Path -Path $folder.FullName -ChildPath 'worker.json'))
        $process = Get-PatchwaveWorkerProcess -WorkDirectory $folder.FullName
        $task = Get-PatchwaveWorkTask -TaskName $folder.Name
        $taskRunning = $false
        if ($null -ne $task) {
            $taskRunning = $task.State -in @(2, 4)  # TASK_STATE_QUEUED, TASK_STATE_RUNNING
            Remove-PatchwaveComObject -InputObject @($task)
        }

        $stale = $now -ge $giveUp
        if (-not $stale -and -not $hasResult -and $recorded -and -not $process -and -not $taskRunning) {
            $stale = $true  # its worker ended without a result
        }
        if (-not $stale) {
            continue
        }
        $mine = ($workKind -eq $Kind) -and ($workOwner -eq $Owner)
        if (($process -or $taskRunning) -and -not $mine) {
            continue  # a live worker of another kind or owner is never touched
        }
        # The same removal as an acknowledged piece of work: task, process (waited for), folder (retried).
        $null = Stop-PatchwaveWorker -WorkDirectory $folder.FullName -TaskName $folder.Name
        if (-not (Test-Path -LiteralPath $folder.FullName)) {
            $removed.Add($folder.Name)
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
    $task = Get-PatchwaveWorkTask -TaskName $TaskName
    if ($null -ne $task) {
        try {
            $failure.last_task_result = ConvertTo-PatchwaveUInt32 -Value $task.LastTaskResult
        }
        finally {
            Remove-PatchwaveComObject -InputObject @($task)
        }
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
    $task = Get-PatchwaveWorkTask -TaskName $TaskName
    if ($null -ne $task) {
        $taskState = $task.State
        Remove-PatchwaveComObject -InputObject @($task)
        if ($taskState -in @(2, 4)) {
            return 'running'  # TASK_STATE_QUEUED, TASK_STATE_RUNNING
        }
    }
    if (Get-PatchwaveWorkerProcess -WorkDirectory $WorkDirectory) {
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
    runs it from a scheduled task, S4U then SYSTEM; fallback_reason says why S4U did not do (the
    caller warns), and is null when it did. Either way the worker process is recorded in
    launch.json, and a task whose worker runs is deleted at once (the worker keeps running).

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
        $InProcess
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
        Write-PatchwaveLaunchRecord -WorkDirectory $WorkDirectory -ProcessId $processId
        $userSid = [Security.Principal.WindowsIdentity]::GetCurrent().User.Value
        return [Ordered]@{ worker = 'in_process'; sid = $userSid; logon = 'current'; fallback_reason = $null }
    }

    $taskParameters = @{
        TaskName = $TaskName
        Description = $Description
        Path = $powershell
        Arguments = $arguments
        WorkingDirectory = $WorkDirectory
        ResultPath = (Join-Path -Path $WorkDirectory -ChildPath 'result.json')
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
    $process = Get-PatchwaveWorkerProcess -WorkDirectory $WorkDirectory
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
    'Get-PatchwaveErrorHResult'
    'Format-PatchwaveError'
    'Remove-PatchwaveComObject'
    'Get-PatchwaveTimestamp'
    'New-PatchwaveList'
    'Write-PatchwaveJsonFile'
    'Write-PatchwaveProgress'
    'Invoke-PatchwaveWorker'
    'Get-PatchwaveWorkerScript'
    'Get-PatchwaveWorkerCommand'
    'Get-PatchwaveWorkName'
    'Get-PatchwaveWorkDirectory'
    'New-PatchwaveWorkDirectory'
    'Get-PatchwaveTaskError'
    'Get-PatchwaveWorkTask'
    'Start-PatchwaveWorkTask'
    'Remove-PatchwaveWorkTask'
    'Get-PatchwaveWorkerProcess'
    'Write-PatchwaveLaunchRecord'
    'Start-PatchwaveDetachedProcess'
    'Get-PatchwaveWorkRecord'
    'Remove-PatchwaveStaleWork'
    'Get-PatchwaveWorkerFailure'
    'Get-PatchwaveWorkState'
    'Start-PatchwaveWorker'
    'Wait-PatchwaveWork'
    'Read-PatchwaveWorkFile'
    'Stop-PatchwaveWorker'
)
