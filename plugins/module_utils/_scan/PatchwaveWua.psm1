# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

#AnsibleRequires -PowerShell ansible_collections.patchwave.windows.plugins.module_utils._host.PatchwaveTask

# Private to this collection: not a public API, may change without notice.
#
# The host side of patchwave.windows.scan: everything that talks to the Windows Update Agent (WUA)
# and the registry. It gathers and returns; every decision (TTL, compliance, what a result code
# means for a host) is made by the action plugin on the controller.
#
# The shapes built here are the JSON contract in plugins/module_utils/_scan/contract.py
# (SCAN_SCHEMA, UPDATE_SCHEMA). tests/unit/powershell/test_powershell.py reads the hashtable literals of
# New-PatchwaveScanResult, ConvertTo-PatchwaveUpdateInfo, ConvertTo-PatchwaveCategoryInfo and
# ConvertTo-PatchwaveSearchWarning and fails when their keys and the contract differ, so add a key
# in both places or in neither.
#
# The search runs in a worker process outside the WinRM logon (WUA refuses ISystemInformation,
# AddScanPackageService and more to a network logon): plugins/module_utils/_host/PatchwaveTask.psm1
# starts it, kind "scan", and the worker runs Invoke-PatchwaveScanWorker with the functions listed
# below, copied into its worker.ps1 by text.

$ErrorActionPreference = 'Stop'

# Functions copied into worker.ps1 besides the runner's own; tests/unit/powershell/test_powershell.py checks
# that the two lists hold every Patchwave function the worker reaches.
$script:WorkerFunctions = @(
    'New-PatchwaveUpdateSession'
    'Set-PatchwaveServerSelection'
    'Copy-PatchwaveScanFile'
    'Get-PatchwaveRebootSource'
    'Get-PatchwaveWuaVersion'
    'Get-PatchwaveLastBoot'
    'New-PatchwaveScanResult'
    'ConvertTo-PatchwaveCategoryInfo'
    'ConvertTo-PatchwaveUpdateInfo'
    'ConvertTo-PatchwaveSearchWarning'
    'Invoke-PatchwaveScan'
    'Invoke-PatchwaveScanWorker'
)

Function New-PatchwaveUpdateSession {
    <#
    .SYNOPSIS
    Returns a new WUA update session (Microsoft.Update.Session) named patchwave.windows; the caller
    releases it (Remove-PatchwaveComObject).

    .DESCRIPTION
    IUpdateSession.ClientApplicationID names the caller in WindowsUpdate.log and the event log. The
    one place the scan and the install create their session.

    .OUTPUTS
    IUpdateSession.
    #>
    [CmdletBinding()]
    [OutputType([Object])]
    param ()

    $session = New-Object -ComObject Microsoft.Update.Session
    try {
        $session.ClientApplicationID = 'patchwave.windows'
    }
    catch {
        Remove-PatchwaveComObject -InputObject @($session)
        throw
    }
    $session
}

Function Set-PatchwaveServerSelection {
    <#
    .SYNOPSIS
    Points a WUA searcher at the update service the contract names (IUpdateSearcher.ServerSelection).

    .DESCRIPTION
    ServerSelection (MS-UAMG 2.2.11): default is ssDefault 0 (the managed server when one is
    configured), managed_server ssManagedServer 1 (WSUS), windows_update ssWindowsUpdate 2, offline
    ssOthers 3 with the ServiceID of the offline scan package.

    .PARAMETER Searcher
    The IUpdateSearcher COM object.

    .PARAMETER ServerSelection
    default, managed_server, windows_update or offline.

    .PARAMETER ServiceId
    The service to search with ssOthers (the offline scan package's ServiceID).
    #>
    [CmdletBinding()]
    param (
        [Parameter(Mandatory = $true)]
        [Object]
        $Searcher,

        [Parameter(Mandatory = $true)]
        [ValidateSet('default', 'managed_server', 'windows_update', 'offline')]
        [String]
        $ServerSelection,

        [Parameter()]
        [String]
        $ServiceId
    )

    $serverSelections = @{
        default = 0
        managed_server = 1
        windows_update = 2
        offline = 3
    }
    $Searcher.ServerSelection = $serverSelections[$ServerSelection]
    if ($ServiceId) {
        $Searcher.ServiceID = $ServiceId
    }
}

Function Copy-PatchwaveScanFile {
    <#
    .SYNOPSIS
    Copies an offline scan file (wsusscn2.cab) into the work folder and returns the local path.

    .DESCRIPTION
    AddScanPackageService wants a local path, and a UNC path is often out of the worker's reach
    (an S4U logon has no network credentials), so a cab on a share is staged first.

    .PARAMETER Source
    The cab, usually a UNC path.

    .PARAMETER ScanDirectory
    The work folder.
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
    Returns a scan result (SCAN_SCHEMA of contract.py) with every key present: the search
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
    Converts a WUA IUpdate to the contract's update record (UPDATE_SCHEMA of contract.py).

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
    Copy ScanFile into the work folder first (it is still on a share).

    .PARAMETER StageError
    Why the start step could not stage the file itself; reported if staging fails here too.

    .PARAMETER ScanDirectory
    The work folder (for staging and progress).

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

    $session = $null
    $searcher = $null
    $searchResult = $null
    $serviceManager = $null
    $service = $null
    $serviceId = $null
    try {
        $session = New-PatchwaveUpdateSession
        $searcher = $session.CreateUpdateSearcher()

        if ($ServerSelection -eq 'offline') {
            $localFile = $ScanFile
            if ($StageScanFile) {
                Write-PatchwaveProgress -WorkDirectory $ScanDirectory -Phase 'staging'
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
        Set-PatchwaveServerSelection -Searcher $searcher -ServerSelection $ServerSelection -ServiceId $serviceId

        Write-PatchwaveProgress -WorkDirectory $ScanDirectory -Phase 'searching'
        $searchResult = $searcher.Search($SearchCriteria)
        $scan.result_code = [Int32]$searchResult.ResultCode

        Write-PatchwaveProgress -WorkDirectory $ScanDirectory -Phase 'collecting'
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
    The scan's entry point in the worker (Invoke-PatchwaveWorker calls it): runs the scan
    params.json describes and returns its result; never throws.

    .DESCRIPTION
    Whatever happens, it returns a complete scan result: an unexpected error becomes a failed scan
    (result_code 4) with the error text, the HRESULT when it was a COM error.

    .PARAMETER WorkDirectory
    The scan's work folder.

    .PARAMETER Parameters
    params.json as an object: scan_id, server_selection, scan_file, stage_scan_file, stage_error,
    include_hidden, search_criteria, worker.
    #>
    [CmdletBinding()]
    [OutputType([System.Collections.Specialized.OrderedDictionary])]
    param (
        [Parameter(Mandatory = $true)]
        [String]
        $WorkDirectory,

        [Parameter(Mandatory = $true)]
        [Object]
        $Parameters
    )

    try {
        $scanParameters = @{
            ScanId = [String]$Parameters.scan_id
            ServerSelection = [String]$Parameters.server_selection
            ScanFile = [String]$Parameters.scan_file
            StageScanFile = [Bool]$Parameters.stage_scan_file
            StageError = [String]$Parameters.stage_error
            ScanDirectory = $WorkDirectory
            IncludeHidden = [Bool]$Parameters.include_hidden
            SearchCriteria = [String]$Parameters.search_criteria
            Worker = [String]$Parameters.worker
        }
        Invoke-PatchwaveScan @scanParameters
    }
    catch {
        $scanId = 'unknown'
        $serverSelection = 'default'
        $worker = 'scheduled_task'
        if ($Parameters.scan_id) {
            $scanId = [String]$Parameters.scan_id
        }
        if ($Parameters.server_selection) {
            $serverSelection = [String]$Parameters.server_selection
        }
        if ($Parameters.worker) {
            $worker = [String]$Parameters.worker
        }
        $scan = New-PatchwaveScanResult -ScanId $scanId -ServerSelection $serverSelection -Worker $worker
        $scan.result_code = 4
        $scan.hresult = Get-PatchwaveErrorHResult -ErrorObject $_
        $scan.error = "The scan worker failed: $(Format-PatchwaveError -ErrorObject $_)"
        $scan
    }
}

Function Get-PatchwaveScanWorkerFunction {
    <#
    .SYNOPSIS
    Returns the names of the functions a scan worker needs besides the runner's (for
    Start-PatchwaveWorker -Functions).
    #>
    [CmdletBinding()]
    [OutputType([String[]])]
    param ()

    , [String[]]$script:WorkerFunctions
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

Export-ModuleMember -Function @(
    'New-PatchwaveUpdateSession'
    'Set-PatchwaveServerSelection'
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
    'Get-PatchwaveScanWorkerFunction'
    'Test-PatchwaveWuaAccess'
)
