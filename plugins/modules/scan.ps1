#!powershell

# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

#AnsibleRequires -CSharpUtil Ansible.Basic
#AnsibleRequires -PowerShell ansible_collections.patchwave.windows.plugins.module_utils._host.PatchwaveTask
#AnsibleRequires -PowerShell ansible_collections.patchwave.windows.plugins.module_utils._scan.PatchwaveWua

# The host side of patchwave.windows.scan. The action plugin (plugins/action/scan.py) calls it in
# rounds, as ansible.windows.win_updates does:
#   start  - starts a WUA search in a worker outside the WinRM logon, returns at once with scan_id;
#   poll   - reads the work folder: running (with progress), done (with the scan result) or lost
#            (with what the worker left); the result stays there until cancel, so a poll answer
#            lost on the way is read again;
#   cancel - acknowledges (or aborts): stops the worker if it still runs, deletes the task and the
#            work folder.
# The worker runner (work folder, scheduled task, S4U then SYSTEM) is
# plugins/module_utils/_host/PatchwaveTask.psm1, kind "scan"; the search is PatchwaveWua.psm1.
# It gathers and returns; TTL, compliance and every other decision are the controller's. The
# result shapes are plugins/module_utils/_scan/contract.py.

$spec = @{
    options = @{
        _operation = @{ type = 'str'; default = 'start'; choices = 'start', 'poll', 'cancel' }
        _operation_options = @{
            type = 'dict'
            options = @{
                scan_id = @{ type = 'str' }
                wait_seconds = @{ type = 'int'; default = 0 }
                give_up_seconds = @{ type = 'int'; default = 0 }
            }
        }
        server_selection = @{
            type = 'str'
            default = 'default'
            choices = 'default', 'managed_server', 'windows_update', 'offline'
        }
        offline_scan_file = @{ type = 'path' }
        include_hidden = @{ type = 'bool'; default = $true }
        search_criteria = @{ type = 'str'; default = 'IsInstalled=0 or IsInstalled=1' }
    }
    required_if = @(
        , @('server_selection', 'offline', @('offline_scan_file'))
    )
    supports_check_mode = $true
}

$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)

$operation = $module.Params._operation
$operationOptions = $module.Params._operation_options
if ($null -eq $operationOptions) {
    $operationOptions = @{ scan_id = $null; wait_seconds = 0; give_up_seconds = 0 }
}

$module.Result.changed = $false
$module.Result.operation = $operation

if ($operation -eq 'start') {
    $scanId = [Guid]::NewGuid().ToString('D')
    $module.Result.scan_id = $scanId

    # Probe: a token WUA serves (become, a batch or service logon) scans in this process; a WinRM
    # network logon needs the scheduled task.
    $worker = 'scheduled_task'
    if (Test-PatchwaveWuaAccess) {
        $worker = 'in_process'
    }
    $module.Result.worker = $worker

    if ([String]::IsNullOrWhiteSpace($module.Params.search_criteria)) {
        $module.FailJson(("search_criteria is empty: give a Windows Update search criteria, for example " +
                "'IsInstalled=0 or IsInstalled=1' (the default) or 'IsInstalled=0 and IsHidden=0'."))
    }

    $serverSelection = $module.Params.server_selection
    $scanFile = $module.Params.offline_scan_file
    $isUnc = $false
    if ($serverSelection -eq 'offline') {
        $isUnc = $scanFile.StartsWith('\\')
        if (-not $isUnc -and -not (Test-Path -LiteralPath $scanFile -PathType Leaf)) {
            $module.FailJson("The offline scan file '$scanFile' does not exist on the host.")
        }
    }

    if ($module.CheckMode) {
        # Nothing is started in check mode; the action plugin reports what would be scanned.
        $module.ExitJson()
    }

    $userSid = [Security.Principal.WindowsIdentity]::GetCurrent().User.Value
    # What earlier scans and installs left behind (a lost reply, a controller that crashed) goes first;
    # a sweep that fails does not stop this scan.
    try {
        # the function writes its String[] as one object (, $array): @() would nest it
        $module.Result.stale_removed = Remove-PatchwaveStaleWork -Kind 'scan' -Owner $userSid
    }
    catch {
        $module.Result.stale_removed = @()
        $module.Warn("Stale scans and installs could not be cleaned up: $(Format-PatchwaveError -ErrorObject $_)")
    }

    $scanDirectory = $null
    $taskName = Get-PatchwaveWorkName -Kind 'scan' -WorkId $scanId
    try {
        $directoryParameters = @{
            Kind = 'scan'
            WorkId = $scanId
            UserSid = $userSid
            GiveUpSeconds = $operationOptions.give_up_seconds
        }
        $scanDirectory = New-PatchwaveWorkDirectory @directoryParameters

        # A cab on a share is copied here with the connection's credentials when they reach it; an
        # S4U worker has no network credentials, a SYSTEM worker only the computer account's.
        $stageScanFile = $false
        $stageError = $null
        if ($isUnc) {
            try {
                $scanFile = Copy-PatchwaveScanFile -Source $scanFile -ScanDirectory $scanDirectory
            }
            catch {
                $stageScanFile = $true
                $stageError = $_.Exception.Message
            }
        }

        $workerParameters = @{
            WorkDirectory = $scanDirectory
            TaskName = $taskName
            Description = 'patchwave.windows scan worker; deleted as soon as the worker runs.'
            Parameters = [Ordered]@{
                scan_id = $scanId
                server_selection = $serverSelection
                scan_file = $scanFile
                stage_scan_file = $stageScanFile
                stage_error = $stageError
                include_hidden = $module.Params.include_hidden
                search_criteria = $module.Params.search_criteria
                worker = $worker
            }
            Functions = (Get-PatchwaveScanWorkerFunction)
            EntryPoint = 'Invoke-PatchwaveScanWorker'
            InProcess = ($worker -eq 'in_process')
        }
        $started = Start-PatchwaveWorker @workerParameters
        if ($started.fallback_reason) {
            $module.Warn(("The scan task could not start {0}. The scan runs as SYSTEM, which reaches shares " +
                    "with the computer account only.") -f $started.fallback_reason.TrimEnd('.'))
        }
    }
    catch {
        $null = Remove-PatchwaveWorkTask -TaskName $taskName
        if ($scanDirectory -and (Test-Path -LiteralPath $scanDirectory)) {
            Remove-Item -LiteralPath $scanDirectory -Recurse -Force -ErrorAction SilentlyContinue
        }
        $hresult = Get-PatchwaveErrorHResult -ErrorObject $_
        if ($null -ne $hresult) {
            $module.Result.hresult = $hresult
        }
        # The host refused the worker (not the request): the controller counts it as a failed scan.
        $module.Result.worker_start_failed = $true
        $module.FailJson("Failed to start the scan worker ($worker): $(Format-PatchwaveError -ErrorObject $_)", $_)
    }
    $module.ExitJson()
}

$scanId = $operationOptions.scan_id
if (-not $scanId) {
    $module.FailJson("_operation_options.scan_id is required for $operation.")
}
try {
    $scanDirectory = Get-PatchwaveWorkDirectory -Kind 'scan' -WorkId $scanId
    $taskName = Get-PatchwaveWorkName -Kind 'scan' -WorkId $scanId
}
catch {
    $module.FailJson($_.Exception.Message, $_)
}
$module.Result.scan_id = $scanId

if ($operation -eq 'poll') {
    # The controller is still there: the scan is wanted until its next poll is overdue (see
    # Update-PatchwaveWorkGiveUp); a renewal that fails leaves the earlier give-up time.
    try {
        Update-PatchwaveWorkGiveUp -WorkDirectory $scanDirectory -Seconds $operationOptions.give_up_seconds
    }
    catch {
        $module.Warn("The give-up time of scan $scanId could not be renewed: $(Format-PatchwaveError -ErrorObject $_)")
    }

    # Long poll: wait up to wait_seconds for the worker to finish, then say what there is.
    $state = Wait-PatchwaveWork -WorkDirectory $scanDirectory -TaskName $taskName -Seconds $operationOptions.wait_seconds
    $module.Result.state = $state

    if ($state -eq 'lost') {
        # A worker that died early left its reason in the scan folder, and the task its exit code.
        $failure = Get-PatchwaveWorkerFailure -WorkDirectory $scanDirectory -TaskName $taskName
        $module.Result.worker_error = $failure.error
        $module.Result.last_task_result = $failure.last_task_result
        $why = 'the worker ended without a result (killed, or the host restarted)'
        if (-not [IO.Directory]::Exists($scanDirectory)) {
            $why = 'the host has no folder for it (never started here, or already cleaned up)'
        }
        elseif ($failure.error) {
            $why = $failure.error
        }
        if ($null -ne $failure.last_task_result) {
            $why = '{0} (task last result 0x{1:X8})' -f ($why, $failure.last_task_result)
        }
        $module.Result.msg = "scan $scanId is lost: $why"
    }
    elseif ($state -eq 'done') {
        try {
            $module.Result.scan = [Ansible.Basic.AnsibleModule]::FromJson((Read-PatchwaveWorkFile -WorkDirectory $scanDirectory -Name 'result.json'))
        }
        catch {
            $module.FailJson("The result of scan $scanId could not be read: $($_.Exception.Message)", $_)
        }
    }
    elseif ($state -eq 'running') {
        try {
            $progress = Read-PatchwaveWorkFile -WorkDirectory $scanDirectory -Name 'progress.json'
            if ($progress) {
                $module.Result.progress = [Ansible.Basic.AnsibleModule]::FromJson($progress)
            }
        }
        catch {
            # Being replaced right now; the next poll reads it.
            $module.Result.progress = @{}
        }
    }
    $module.ExitJson()
}

# cancel: the acknowledgement of a result, or the abort of a scan still running.
if (-not $module.CheckMode) {
    $module.Result.cleaned = Stop-PatchwaveWorker -WorkDirectory $scanDirectory -TaskName $taskName
    if (-not $module.Result.cleaned) {
        $module.Warn("Scan $scanId left its task '$taskName' or its folder '$scanDirectory' behind.")
    }
}
else {
    $module.Result.cleaned = $false
}
$module.ExitJson()
