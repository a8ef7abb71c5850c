# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# Private to this collection: not a public API, may change without notice.
#
# The host side of patchwave.windows.scan: everything that talks to the Windows Update Agent (WUA),
# the Task Scheduler and the registry. It gathers and returns; every decision (TTL, compliance,
# what a result code means for a host) is made by the action plugin on the controller.
#
# The shapes built here are the JSON contract in plugins/module_utils/_scan/contract.py
# (SCAN_SCHEMA, UPDATE_SCHEMA). tests/unit/test_powershell.py reads the hashtable literals of
# New-PatchwaveScanResult, ConvertTo-PatchwaveUpdateInfo, ConvertTo-PatchwaveCategoryInfo and
# ConvertTo-PatchwaveSearchWarning and fails when their keys and the contract differ, so add a key
# in both places or in neither.
#
# Why a worker process: WUA refuses ISystemInformation, AddScanPackageService and more to a WinRM
# network logon (E_ACCESSDENIED). The scan therefore runs in a PowerShell process started by an
# ephemeral scheduled task (S4U logon as the connecting user, or SYSTEM when the user may not log
# on as a batch job), which also outlives a dropped connection. The worker runs the functions of
# this file: Get-PatchwaveWorkerScript copies their text into worker.ps1 in the scan folder, so the
# worker needs nothing from Ansible.

$ErrorActionPreference = 'Stop'

# The per-scan folder: <root>\patchwave-scan-<scan id>. %SystemRoot%\Temp survives the module run
# (the module's own tmpdir is removed when the module exits) and is where SYSTEM can write.
$script:ScanFolderPrefix = 'patchwave-scan-'
$script:TaskNamePrefix = 'patchwave-scan-'

# Functions copied into worker.ps1; tests/unit/test_powershell.py checks that this list holds
# every Patchwave function Invoke-PatchwaveScanWorker reaches.
$script:WorkerFunctions = @(
    'ConvertTo-PatchwaveUInt32'
    'Get-PatchwaveErrorHResult'
    'Format-PatchwaveError'
    'Remove-PatchwaveComObject'
    'Get-PatchwaveTimestamp'
    'Write-PatchwaveJsonFile'
    'Write-PatchwaveProgress'
    'Copy-PatchwaveScanFile'
    'Get-PatchwaveRebootSource'
    'Get-PatchwaveWuaVersion'
    'Get-PatchwaveLastBoot'
    'New-PatchwaveList'
    'New-PatchwaveScanResult'
    'ConvertTo-PatchwaveCategoryInfo'
    'ConvertTo-PatchwaveUpdateInfo'
    'ConvertTo-PatchwaveSearchWarning'
    'Invoke-PatchwaveScan'
    'Invoke-PatchwaveScanWorker'
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
    Records the worker's current phase in progress.json of the scan folder (returned by poll).

    .DESCRIPTION
    WUA's synchronous search reports no progress, so the phases are coarse: starting, staging,
    searching, collecting. A failure to write is ignored: progress is informative only.

    .PARAMETER ScanDirectory
    The scan folder.

    .PARAMETER Phase
    The phase the worker enters.
    #>
    [CmdletBinding()]
    param (
        [Parameter(Mandatory = $true)]
        [String]
        $ScanDirectory,

        [Parameter(Mandatory = $true)]
        [String]
        $Phase
    )

    $progress = [Ordered]@{
        phase = $Phase
        updated = (Get-PatchwaveTimestamp)
    }
    try {
        Write-PatchwaveJsonFile -Path (Join-Path -Path $ScanDirectory -ChildPath 'progress.json') -InputObject $progress
    }
    catch {
        Write-Verbose -Message "Could not record progress: $($_.Exception.Message)"
    }
}

Function Copy-PatchwaveScanFile {
    <#
    .SYNOPSIS
    Copies an offline scan file (wsusscn2.cab) into the scan folder and returns the local path.

    .DESCRIPTION
    AddScanPackageService wants a local path, and a UNC path is often out of the worker's reach
    (an S4U logon has no network credentials), so a cab on a share is staged first.

    .PARAMETER Source
    The cab, usually a UNC path.

    .PARAMETER ScanDirectory
    The scan folder.
    #>
    [CmdletBinding()]
    [OutputType([String])]
    param (
        [Parameter(Mandatory = $true)]
        [String]
        $Source,

        [Parameter(Mandatory = $true)]
        [String]
        $ScanDirectory
    )

    $destination = Join-Path -Path $ScanDirectory -ChildPath 'wsusscn2.cab'
    $partial = "$destination.partial"
    Copy-Item -LiteralPath $Source -Destination $partial -Force
    Move-Item -LiteralPath $partial -Destination $destination -Force
    $destination
}

Function Get-PatchwaveRebootSource {
    <#
    .SYNOPSIS
    Returns what says a reboot is pending, as a list of the contract's REBOOT_SOURCES names.

    .DESCRIPTION
    wua: ISystemInformation.RebootRequired (only with -IncludeWua; WUA refuses it to a network
    logon, so only the worker asks). The rest are the standard registry markers:
    component_based_servicing (CBS RebootPending key), windows_update (Auto Update RebootRequired
    key), pending_file_rename (PendingFileRenameOperations not empty), pending_computer_rename
    (active and pending computer names differ), server_manager (ServerComponentCache
    RestartRequired set).

    .PARAMETER IncludeWua
    Also ask WUA's ISystemInformation.
    #>
    [CmdletBinding()]
    [OutputType([System.Collections.Generic.List[Object]])]
    param (
        [Parameter()]
        [Switch]
        $IncludeWua
    )

    $sources = New-PatchwaveList

    if ($IncludeWua) {
        $systemInfo = $null
        try {
            $systemInfo = New-Object -ComObject Microsoft.Update.SystemInfo
            if ($systemInfo.RebootRequired) {
                $sources.Add('wua')
            }
        }
        catch {
            Write-Verbose -Message "ISystemInformation is not available: $($_.Exception.Message)"
        }
        finally {
            Remove-PatchwaveComObject -InputObject @($systemInfo)
        }
    }

    $cbs = 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootPending'
    if (Test-Path -LiteralPath $cbs) {
        $sources.Add('component_based_servicing')
    }

    $wu = 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update\RebootRequired'
    if (Test-Path -LiteralPath $wu) {
        $sources.Add('windows_update')
    }

    $sessionManager = Get-ItemProperty -LiteralPath 'HKLM:\SYSTEM\CurrentControlSet\Control\Session Manager' `
        -Name 'PendingFileRenameOperations' -ErrorAction SilentlyContinue
    if ($sessionManager) {
        $renames = @($sessionManager.PendingFileRenameOperations | Where-Object { $_ })
        if ($renames.Count -gt 0) {
            $sources.Add('pending_file_rename')
        }
    }

    $computerName = 'HKLM:\SYSTEM\CurrentControlSet\Control\ComputerName'
    $active = Get-ItemProperty -LiteralPath "$computerName\ActiveComputerName" -Name 'ComputerName' -ErrorAction SilentlyContinue
    $pending = Get-ItemProperty -LiteralPath "$computerName\ComputerName" -Name 'ComputerName' -ErrorAction SilentlyContinue
    if ($active -and $pending -and ($active.ComputerName -ne $pending.ComputerName)) {
        $sources.Add('pending_computer_rename')
    }

    $serverManager = Get-ItemProperty -LiteralPath 'HKLM:\SOFTWARE\Microsoft\ServerManager\ServicingStorage\ServerComponentCache' `
        -Name 'RestartRequired' -ErrorAction SilentlyContinue
    if ($serverManager -and $serverManager.RestartRequired) {
        $sources.Add('server_manager')
    }

    return , $sources
}

Function Get-PatchwaveWuaVersion {
    <#
    .SYNOPSIS
    Returns the Windows Update Agent version (wuaueng.dll's file version, 10.0.20348.2227), or an
    empty string when it cannot be read.
    #>
    [CmdletBinding()]
    [OutputType([String])]
    param ()

    # A 32-bit PowerShell on a 64-bit Windows sees SysWOW64 as System32; wuaueng.dll is 64-bit only.
    $system = 'System32'
    if ([Environment]::Is64BitOperatingSystem -and -not [Environment]::Is64BitProcess) {
        $system = 'Sysnative'
    }
    $path = Join-Path -Path $env:SystemRoot -ChildPath "$system\wuaueng.dll"
    try {
        $info = [Diagnostics.FileVersionInfo]::GetVersionInfo($path)
        '{0}.{1}.{2}.{3}' -f ($info.FileMajorPart, $info.FileMinorPart, $info.FileBuildPart, $info.FilePrivatePart)
    }
    catch {
        ''
    }
}

Function Get-PatchwaveLastBoot {
    <#
    .SYNOPSIS
    Returns the last boot time as ISO 8601 UTC text, or an empty string when it cannot be read.
    #>
    [CmdletBinding()]
    [OutputType([String])]
    param ()

    try {
        $os = Get-CimInstance -ClassName Win32_OperatingSystem -Property LastBootUpTime
        Get-PatchwaveTimestamp -Date $os.LastBootUpTime
    }
    catch {
        ''
    }
}

Function New-PatchwaveScanResult {
    <#
    .SYNOPSIS
    Returns a scan result (SCAN_SCHEMA of _scan_contract.py) with every key present: the search
    fills it in, and a failed scan is still a complete, valid result.

    .PARAMETER ScanId
    The scan's id.

    .PARAMETER ServerSelection
    default, managed_server, windows_update or offline.

    .PARAMETER Worker
    scheduled_task or in_process.
    #>
    [CmdletBinding()]
    [OutputType([System.Collections.Specialized.OrderedDictionary])]
    param (
        [Parameter(Mandatory = $true)]
        [String]
        $ScanId,

        [Parameter(Mandatory = $true)]
        [String]
        $ServerSelection,

        [Parameter(Mandatory = $true)]
        [String]
        $Worker
    )

    $mode = 'online'
    if ($ServerSelection -eq 'offline') {
        $mode = 'offline'
    }
    $now = Get-PatchwaveTimestamp

    [Ordered]@{
        scan_id = $ScanId
        mode = $mode
        server_selection = $ServerSelection
        started = $now
        finished = $now
        result_code = 0  # orcNotStarted until the search says otherwise
        hresult = $null
        error = $null
        wua_version = ''
        reboot_pending = $false
        reboot_sources = (New-PatchwaveList)
        last_boot = ''
        worker = $Worker
        updates = (New-PatchwaveList)
        warnings = (New-PatchwaveList)
    }
}

Function ConvertTo-PatchwaveCategoryInfo {
    <#
    .SYNOPSIS
    Converts a WUA ICategory to {id, name, type} (Product, ProductFamily, UpdateClassification, ...).

    .PARAMETER Category
    The ICategory COM object.
    #>
    [CmdletBinding()]
    [OutputType([System.Collections.Specialized.OrderedDictionary])]
    param (
        [Parameter(Mandatory = $true)]
        [Object]
        $Category
    )

    [Ordered]@{
        id = [String]$Category.CategoryID
        name = [String]$Category.Name
        type = [String]$Category.Type
    }
}

Function ConvertTo-PatchwaveSearchWarning {
    <#
    .SYNOPSIS
    Converts a WUA IUpdateException of ISearchResult.Warnings to {context, hresult}.

    .DESCRIPTION
    context is UpdateExceptionContext (1 General, 2 WindowsDriver, 3 WindowsInstaller,
    4 SearchIncomplete); hresult is unsigned.

    .PARAMETER Warning
    The IUpdateException COM object.
    #>
    [CmdletBinding()]
    [OutputType([System.Collections.Specialized.OrderedDictionary])]
    param (
        [Parameter(Mandatory = $true)]
        [Object]
        $Warning
    )

    [Ordered]@{
        context = [Int32]$Warning.Context
        hresult = (ConvertTo-PatchwaveUInt32 -Value $Warning.HResult)
    }
}

Function ConvertTo-PatchwaveUpdateInfo {
    <#
    .SYNOPSIS
    Converts a WUA IUpdate to the contract's update record (UPDATE_SCHEMA of _scan_contract.py).

    .DESCRIPTION
    Identity (UpdateID + RevisionNumber) pins the exact revision found; KB numbers come without the
    KB prefix, as WUA gives them; reboot_behavior is InstallationRebootBehavior (0 NeverReboots,
    1 AlwaysRequiresReboot, 2 CanRequestReboot); msrc_severity is null when the update has none.

    .PARAMETER Update
    The IUpdate COM object.
    #>
    [CmdletBinding()]
    [OutputType([System.Collections.Specialized.OrderedDictionary])]
    param (
        [Parameter(Mandatory = $true)]
        [Object]
        $Update
    )

    $kbs = New-PatchwaveList
    foreach ($kb in $Update.KBArticleIDs) {
        $kbs.Add([String]$kb)
    }

    $categories = New-PatchwaveList
    foreach ($category in $Update.Categories) {
        $categories.Add((ConvertTo-PatchwaveCategoryInfo -Category $category))
    }

    $superseded = New-PatchwaveList
    foreach ($supersededId in $Update.SupersededUpdateIDs) {
        $superseded.Add([String]$supersededId)
    }

    $rebootBehavior = 0
    $behavior = $Update.InstallationBehavior
    if ($null -ne $behavior) {
        $rebootBehavior = [Int32]$behavior.RebootBehavior
    }

    $severity = [String]$Update.MsrcSeverity
    if (-not $severity) {
        $severity = $null
    }

    [Ordered]@{
        update_id = [String]$Update.Identity.UpdateID
        revision_number = [Int32]$Update.Identity.RevisionNumber
        title = [String]$Update.Title
        kb_article_ids = $kbs
        is_installed = [Bool]$Update.IsInstalled
        is_hidden = [Bool]$Update.IsHidden
        is_downloaded = [Bool]$Update.IsDownloaded
        reboot_behavior = $rebootBehavior
        max_download_size = [Int64]$Update.MaxDownloadSize
        msrc_severity = $severity
        categories = $categories
        superseded_update_ids = $superseded
        reboot_required = [Bool]$Update.RebootRequired
    }
}

Function Invoke-PatchwaveScan {
    <#
    .SYNOPSIS
    Runs one WUA search and returns the scan result (SCAN_SCHEMA); never throws for a WUA failure.

    .DESCRIPTION
    Creates an update session (ClientApplicationID patchwave.windows) and a searcher, points it at
    the chosen server (for offline: AddScanPackageService with the cab, then ssOthers and the
    package's ServiceID; the package service is removed afterwards), runs the search and converts
    every update. A failed search is returned with result_code 4 (orcFailed), the HRESULT and the
    error text; WUA's own non-fatal warnings (SucceededWithErrors) go into warnings. The reboot
    state, WUA version and last boot time are read after the search.

    Must run where WUA allows it: not under a WinRM network logon.

    .PARAMETER ScanId
    The scan's id.

    .PARAMETER ServerSelection
    default (ssDefault 0), managed_server (ssManagedServer 1, WSUS), windows_update
    (ssWindowsUpdate 2) or offline (ssOthers 3 with the offline scan package).

    .PARAMETER ScanFile
    The offline scan file (wsusscn2.cab), a local path or, with -StageScanFile, a UNC path.

    .PARAMETER StageScanFile
    Copy ScanFile into the scan folder first (it is still on a share).

    .PARAMETER StageError
    Why the start step could not stage the file itself; reported if staging fails here too.

    .PARAMETER ScanDirectory
    The scan folder (for staging and progress).

    .PARAMETER IncludeHidden
    Report hidden updates (with is_hidden); otherwise they are left out of the result.

    .PARAMETER SearchCriteria
    The IUpdateSearcher::Search criteria.

    .PARAMETER Worker
    scheduled_task or in_process, reported in the result.
    #>
    [CmdletBinding()]
    [OutputType([System.Collections.Specialized.OrderedDictionary])]
    param (
        [Parameter(Mandatory = $true)]
        [String]
        $ScanId,

        [Parameter(Mandatory = $true)]
        [String]
        $ServerSelection,

        [Parameter()]
        [String]
        $ScanFile,

        [Parameter()]
        [Switch]
        $StageScanFile,

        [Parameter()]
        [String]
        $StageError,

        [Parameter(Mandatory = $true)]
        [String]
        $ScanDirectory,

        [Parameter()]
        [Bool]
        $IncludeHidden = $true,

        [Parameter(Mandatory = $true)]
        [String]
        $SearchCriteria,

        [Parameter(Mandatory = $true)]
        [String]
        $Worker
    )

    $scan = New-PatchwaveScanResult -ScanId $ScanId -ServerSelection $ServerSelection -Worker $Worker
    $serverSelections = @{
        default = 0
        managed_server = 1
        windows_update = 2
        offline = 3
    }

    $session = $null
    $searcher = $null
    $searchResult = $null
    $serviceManager = $null
    $service = $null
    $serviceId = $null
    try {
        $session = New-Object -ComObject Microsoft.Update.Session
        $session.ClientApplicationID = 'patchwave.windows'
        $searcher = $session.CreateUpdateSearcher()

        if ($ServerSelection -eq 'offline') {
            $localFile = $ScanFile
            if ($StageScanFile) {
                Write-PatchwaveProgress -ScanDirectory $ScanDirectory -Phase 'staging'
                try {
                    $localFile = Copy-PatchwaveScanFile -Source $ScanFile -ScanDirectory $ScanDirectory
                }
                catch {
                    $message = "Could not copy the offline scan file '$ScanFile' to the host: $($_.Exception.Message)"
                    if ($StageError) {
                        $message = "$message (the start step could not either: $StageError)"
                    }
                    throw (New-Object -TypeName System.IO.IOException -ArgumentList @($message, $_.Exception))
                }
            }
            # flags 0: a volatile service, gone at the next reboot even if RemoveService below fails.
            $serviceManager = New-Object -ComObject Microsoft.Update.ServiceManager
            $service = $serviceManager.AddScanPackageService("patchwave.windows offline scan $ScanId", $localFile, 0)
            $serviceId = [String]$service.ServiceID
        }
        $searcher.ServerSelection = $serverSelections[$ServerSelection]
        if ($serviceId) {
            $searcher.ServiceID = $serviceId
        }

        Write-PatchwaveProgress -ScanDirectory $ScanDirectory -Phase 'searching'
        $searchResult = $searcher.Search($SearchCriteria)
        $scan.result_code = [Int32]$searchResult.ResultCode

        Write-PatchwaveProgress -ScanDirectory $ScanDirectory -Phase 'collecting'
        foreach ($warning in $searchResult.Warnings) {
            $scan.warnings.Add((ConvertTo-PatchwaveSearchWarning -Warning $warning))
        }
        foreach ($update in $searchResult.Updates) {
            if ($update.IsHidden -and -not $IncludeHidden) {
                continue
            }
            $scan.updates.Add((ConvertTo-PatchwaveUpdateInfo -Update $update))
        }
        if ($scan.result_code -notin @(2, 3)) {
            $scan.error = "The search ended with result code $($scan.result_code)."
        }
    }
    catch {
        # A search that failed part-way has no list to trust.
        $scan.updates.Clear()
        $scan.result_code = 4  # orcFailed
        $scan.hresult = Get-PatchwaveErrorHResult -ErrorObject $_
        $scan.error = Format-PatchwaveError -ErrorObject $_
    }
    finally {
        if ($serviceId) {
            try {
                $serviceManager.RemoveService($serviceId)
            }
            catch {
                Write-Verbose -Message "Could not remove the offline scan service: $($_.Exception.Message)"
            }
        }
        Remove-PatchwaveComObject -InputObject @($searchResult, $searcher, $service, $serviceManager, $session)
    }

    $sources = Get-PatchwaveRebootSource -IncludeWua
    $scan.reboot_sources = $sources
    $scan.reboot_pending = $sources.Count -gt 0
    $scan.wua_version = Get-PatchwaveWuaVersion
    $scan.last_boot = Get-PatchwaveLastBoot
    $scan.finished = Get-PatchwaveTimestamp
    $scan
}

Function Invoke-PatchwaveScanWorker {
    <#
    .SYNOPSIS
    The worker's entry point: runs the scan described by params.json of the scan folder and writes
    result.json there, atomically.

    .DESCRIPTION
    Writes worker.json (its process id and start time, so poll can tell a running worker from a
    lost one) first. Whatever happens, it writes a complete scan result: an unexpected error becomes
    a failed scan (result_code 4) with the error text. The result stays until the controller's
    cancel step removes the scan folder, so a poll answer lost on the way is simply read again.

    .PARAMETER ScanDirectory
    The scan folder.
    #>
    [CmdletBinding()]
    param (
        [Parameter(Mandatory = $true)]
        [String]
        $ScanDirectory
    )

    $resultPath = Join-Path -Path $ScanDirectory -ChildPath 'result.json'
    $parameters = $null
    try {
        $process = Get-Process -Id $PID
        $identity = [Security.Principal.WindowsIdentity]::GetCurrent()
        Write-PatchwaveJsonFile -Path (Join-Path -Path $ScanDirectory -ChildPath 'worker.json') -InputObject ([Ordered]@{
                pid = $PID
                process_started = (Get-PatchwaveTimestamp -Date $process.StartTime)
                user = $identity.Name
                user_sid = $identity.User.Value
            })
        Write-PatchwaveProgress -ScanDirectory $ScanDirectory -Phase 'starting'

        $parametersJson = [IO.File]::ReadAllText((Join-Path -Path $ScanDirectory -ChildPath 'params.json'))
        $parameters = ConvertFrom-Json -InputObject $parametersJson
        $scanParameters = @{
            ScanId = [String]$parameters.scan_id
            ServerSelection = [String]$parameters.server_selection
            ScanFile = [String]$parameters.scan_file
            StageScanFile = [Bool]$parameters.stage_scan_file
            StageError = [String]$parameters.stage_error
            ScanDirectory = $ScanDirectory
            IncludeHidden = [Bool]$parameters.include_hidden
            SearchCriteria = [String]$parameters.search_criteria
            Worker = [String]$parameters.worker
        }
        $scan = Invoke-PatchwaveScan @scanParameters
    }
    catch {
        $scanId = 'unknown'
        $serverSelection = 'default'
        $worker = 'scheduled_task'
        if ($parameters) {
            $scanId = [String]$parameters.scan_id
            $serverSelection = [String]$parameters.server_selection
            $worker = [String]$parameters.worker
        }
        $scan = New-PatchwaveScanResult -ScanId $scanId -ServerSelection $serverSelection -Worker $worker
        $scan.result_code = 4
        $scan.hresult = Get-PatchwaveErrorHResult -ErrorObject $_
        $scan.error = "The scan worker failed: $(Format-PatchwaveError -ErrorObject $_)"
    }
    Write-PatchwaveJsonFile -Path $resultPath -InputObject $scan
}

Function Get-PatchwaveWorkerScript {
    <#
    .SYNOPSIS
    Returns the text of worker.ps1: the worker's functions, copied from this module.

    .DESCRIPTION
    The worker is a fresh powershell.exe with neither Ansible nor this module loaded, so it gets
    the very functions the module runs in-process; one code path for both kinds of worker.
    #>
    [CmdletBinding()]
    [OutputType([String])]
    param ()

    $builder = New-Object -TypeName Text.StringBuilder
    [void]$builder.AppendLine('# patchwave.windows scan worker, written by the scan module for one scan.')
    [void]$builder.AppendLine('$ErrorActionPreference = ''Stop''')
    foreach ($name in $script:WorkerFunctions) {
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
    Returns the powershell.exe arguments that run worker.ps1 of a scan folder.

    .DESCRIPTION
    A short -EncodedCommand reads worker.ps1 into a script block and calls the worker; a script
    block is not subject to the execution policy, as with Ansible's own bootstrap. worker.ps1 lives
    in the ACL'd scan folder, which only SYSTEM, Administrators and the connecting user may write:
    the SYSTEM worker never runs a script a less privileged user could change.

    Whatever stops the worker before it has written its result (worker.ps1 does not parse, the
    language mode forbids it under WDAC or Constrained Language Mode, result.json cannot be written)
    is written to worker_error.txt in the scan folder, with the language mode, and the process
    exits 1, which the task records as its LastTaskResult; poll returns both when the scan is
    lost. The error is written with Set-Content, which Constrained Language Mode still allows.

    .PARAMETER ScanDirectory
    The scan folder.
    #>
    [CmdletBinding()]
    [OutputType([String])]
    param (
        [Parameter(Mandatory = $true)]
        [String]
        $ScanDirectory
    )

    $quoted = $ScanDirectory -replace "'", "''"
    $bootstrap = @(
        '$ErrorActionPreference = ''Stop'''
        ('$dir = ''{0}''' -f $quoted)
        'try {'
        '    $text = [IO.File]::ReadAllText([IO.Path]::Combine($dir, ''worker.ps1''))'
        '    . ([ScriptBlock]::Create($text))'
        '    Invoke-PatchwaveScanWorker -ScanDirectory $dir'
        '}'
        'catch {'
        '    $lines = @('
        '        "The scan worker stopped before writing its result: $($_.Exception.Message)"'
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

Function Test-PatchwaveWuaAccess {
    <#
    .SYNOPSIS
    Returns $true when WUA's restricted API works from this process's token.

    .DESCRIPTION
    ISystemInformation is on Microsoft's "not available remotely" list: reading RebootRequired
    fails under a WinRM network logon and works under become, a batch or service logon.
    #>
    [CmdletBinding()]
    [OutputType([Bool])]
    param ()

    $systemInfo = $null
    try {
        $systemInfo = New-Object -ComObject Microsoft.Update.SystemInfo
        $null = $systemInfo.RebootRequired
        $true
    }
    catch {
        $false
    }
    finally {
        Remove-PatchwaveComObject -InputObject @($systemInfo)
    }
}

Function Get-PatchwaveScanDirectory {
    <#
    .SYNOPSIS
    Returns the scan folder of a scan id: %SystemRoot%\Temp\patchwave-scan-<id>.

    .DESCRIPTION
    The id must be a GUID, so a crafted id cannot point outside %SystemRoot%\Temp.

    .PARAMETER ScanId
    The scan's id.
    #>
    [CmdletBinding()]
    [OutputType([String])]
    param (
        [Parameter(Mandatory = $true)]
        [String]
        $ScanId
    )

    $guid = [Guid]::Empty
    if (-not [Guid]::TryParse($ScanId, [ref]$guid)) {
        throw "The scan id '$ScanId' is not a GUID."
    }
    Join-Path -Path $env:SystemRoot -ChildPath ('Temp\{0}{1}' -f ($script:ScanFolderPrefix, $guid.ToString('D')))
}

Function Get-PatchwaveScanTaskName {
    <#
    .SYNOPSIS
    Returns the scheduled task name of a scan id: patchwave-scan-<id>.

    .PARAMETER ScanId
    The scan's id (a GUID).
    #>
    [CmdletBinding()]
    [OutputType([String])]
    param (
        [Parameter(Mandatory = $true)]
        [String]
        $ScanId
    )

    $guid = [Guid]::Empty
    if (-not [Guid]::TryParse($ScanId, [ref]$guid)) {
        throw "The scan id '$ScanId' is not a GUID."
    }
    '{0}{1}' -f ($script:TaskNamePrefix, $guid.ToString('D'))
}

Function New-PatchwaveScanDirectory {
    <#
    .SYNOPSIS
    Creates a scan folder with its own protected ACL and returns its path.

    .DESCRIPTION
    Full control for SYSTEM (a SYSTEM worker and the WUA service, which reads the staged cab),
    BUILTIN\Administrators and the connecting user (the S4U worker and every poll), inherited by
    the files in it, nothing inherited from %SystemRoot%\Temp (where any user may create files).
    The ACL is set when the folder is created, so there is no moment without it.

    .PARAMETER ScanId
    The scan's id (a GUID).

    .PARAMETER UserSid
    The connecting user's SID.
    #>
    [CmdletBinding()]
    [OutputType([String])]
    param (
        [Parameter(Mandatory = $true)]
        [String]
        $ScanId,

        [Parameter(Mandatory = $true)]
        [String]
        $UserSid
    )

    $path = Get-PatchwaveScanDirectory -ScanId $ScanId
    if (Test-Path -LiteralPath $path) {
        throw "The scan folder '$path' already exists."
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

Function Get-PatchwaveScanTask {
    <#
    .SYNOPSIS
    Returns the registered scheduled task of a scan, or $null.

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

Function Start-PatchwaveScanTask {
    <#
    .SYNOPSIS
    Registers and runs the scan's scheduled task; returns who the worker runs as and, when it had
    to fall back to SYSTEM, why.

    .DESCRIPTION
    The task runs the worker outside the WinRM logon, with a token WUA accepts, and is not tied to
    the connection. It runs first as the connecting user with an S4U logon (no password needed,
    highest run level). Whatever keeps that task from starting (registration refused, the launch
    failing, a missing "Log on as a batch job" right that shows only at launch with LastTaskResult
    left at 0x00041303 "has not run") makes it run as SYSTEM instead, as ansible.windows'
    win_updates does; the caller warns. A SYSTEM task that does not start either is thrown, with
    both reasons and the Task Scheduler's own message when its log has one.

    A task has started once its running instance has an EnginePID, or the worker's result file
    exists (it was quick); it has failed once it is neither queued nor running. The task has no
    trigger, is hidden, and stops after 12 hours at most; it stays registered until the scan's
    cancel step removes it (Remove-PatchwaveScanTask).

    .PARAMETER TaskName
    The task's name (patchwave-scan-<scan id>).

    .PARAMETER Path
    The program to run (powershell.exe).

    .PARAMETER Arguments
    Its arguments.

    .PARAMETER WorkingDirectory
    Its working folder (the scan folder).

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
        $definition.RegistrationInfo.Description = 'patchwave.windows scan worker; removed by the scan''s cancel step.'
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
                    $enginePid = 0
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
                return [Ordered]@{ sid = $identity.Sid; logon = $identity.Name; fallback_reason = $fallback }
            }
            # Not started: make sure a late start cannot run a second worker, then try the next identity.
            $null = Remove-PatchwaveScanTask -TaskName $TaskName
            $failures.Add(('as {0} ({1}): {2}' -f ($identity.Sid, $identity.Name, $failure)))
        }
        $message = "Could not start the scan task $($failures -join '; ')"
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

Function Remove-PatchwaveScanTask {
    <#
    .SYNOPSIS
    Stops a scan's scheduled task if it still runs and deletes it; returns whether it is gone.

    .PARAMETER TaskName
    The task's name.
    #>
    [CmdletBinding()]
    [OutputType([Bool])]
    param (
        [Parameter(Mandatory = $true)]
        [String]
        $TaskName
    )

    $task = Get-PatchwaveScanTask -TaskName $TaskName
    if ($null -eq $task) {
        return $true
    }
    $scheduler = $null
    $folder = $null
    try {
        if ($task.State -eq 4) {
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
    Returns the worker process recorded in worker.json of a scan folder while it still runs, else
    $null.

    .DESCRIPTION
    The process id and its start time must both match, so a reused process id is not taken for
    the worker.

    .PARAMETER ScanDirectory
    The scan folder.
    #>
    [CmdletBinding()]
    [OutputType([System.Diagnostics.Process])]
    param (
        [Parameter(Mandatory = $true)]
        [String]
        $ScanDirectory
    )

    $path = Join-Path -Path $ScanDirectory -ChildPath 'worker.json'
    if (-not [IO.File]::Exists($path)) {
        return $null
    }
    try {
        $record = ConvertFrom-Json -InputObject ([IO.File]::ReadAllText($path))
        $process = Get-Process -Id ([Int32]$record.pid) -ErrorAction Stop
        if ((Get-PatchwaveTimestamp -Date $process.StartTime) -eq [String]$record.process_started) {
            return $process
        }
    }
    catch {
        Write-Verbose -Message "No worker process: $($_.Exception.Message)"
    }
    $null
}

Function Get-PatchwaveWorkerFailure {
    <#
    .SYNOPSIS
    Returns what is known of a worker that ended without a result: {error, last_task_result}.

    .DESCRIPTION
    error is the text the worker's bootstrap wrote to worker_error.txt (null when it wrote none:
    killed, or the host restarted); last_task_result is the task's LastTaskResult (unsigned; the
    worker's exit code, or a Task Scheduler code), null when the task is gone.

    .PARAMETER ScanDirectory
    The scan folder.

    .PARAMETER TaskName
    The scan's task name.
    #>
    [CmdletBinding()]
    [OutputType([System.Collections.Specialized.OrderedDictionary])]
    param (
        [Parameter(Mandatory = $true)]
        [String]
        $ScanDirectory,

        [Parameter(Mandatory = $true)]
        [String]
        $TaskName
    )

    $failure = [Ordered]@{ error = $null; last_task_result = $null }
    $errorPath = Join-Path -Path $ScanDirectory -ChildPath 'worker_error.txt'
    try {
        if ([IO.File]::Exists($errorPath)) {
            $failure.error = ([IO.File]::ReadAllText($errorPath)).Trim()
        }
    }
    catch {
        $failure.error = "worker_error.txt could not be read: $($_.Exception.Message)"
    }
    $task = Get-PatchwaveScanTask -TaskName $TaskName
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

Function Get-PatchwaveScanState {
    <#
    .SYNOPSIS
    Returns the state of a scan: done (result.json exists), running (its task or worker process
    still runs) or lost (neither).

    .PARAMETER ScanDirectory
    The scan folder.

    .PARAMETER TaskName
    The scan's task name.
    #>
    [CmdletBinding()]
    [OutputType([String])]
    param (
        [Parameter(Mandatory = $true)]
        [String]
        $ScanDirectory,

        [Parameter(Mandatory = $true)]
        [String]
        $TaskName
    )

    $resultPath = Join-Path -Path $ScanDirectory -ChildPath 'result.json'
    if ([IO.File]::Exists($resultPath)) {
        return 'done'
    }
    if (-not [IO.Directory]::Exists($ScanDirectory)) {
        return 'lost'
    }
    $task = Get-PatchwaveScanTask -TaskName $TaskName
    if ($null -ne $task) {
        $taskState = $task.State
        Remove-PatchwaveComObject -InputObject @($task)
        if ($taskState -in @(2, 4)) {
            return 'running'  # TASK_STATE_QUEUED, TASK_STATE_RUNNING
        }
    }
    if (Get-PatchwaveWorkerProcess -ScanDirectory $ScanDirectory) {
        return 'running'
    }
    # The worker may have written its result and ended between the first look and now.
    if ([IO.File]::Exists($resultPath)) {
        return 'done'
    }
    'lost'
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
    'Copy-PatchwaveScanFile'
    'Get-PatchwaveRebootSource'
    'Get-PatchwaveWuaVersion'
    'Get-PatchwaveLastBoot'
    'New-PatchwaveScanResult'
    'ConvertTo-PatchwaveCategoryInfo'
    'ConvertTo-PatchwaveSearchWarning'
    'ConvertTo-PatchwaveUpdateInfo'
    'Invoke-PatchwaveScan'
    'Invoke-PatchwaveScanWorker'
    'Get-PatchwaveWorkerScript'
    'Get-PatchwaveWorkerCommand'
    'Test-PatchwaveWuaAccess'
    'Get-PatchwaveScanDirectory'
    'Get-PatchwaveScanTaskName'
    'New-PatchwaveScanDirectory'
    'Get-PatchwaveTaskError'
    'Get-PatchwaveScanTask'
    'Start-PatchwaveScanTask'
    'Remove-PatchwaveScanTask'
    'Get-PatchwaveWorkerProcess'
    'Get-PatchwaveWorkerFailure'
    'Get-PatchwaveScanState'
)
