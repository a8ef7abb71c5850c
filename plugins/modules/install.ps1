#!powershell

# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

#AnsibleRequires -CSharpUtil Ansible.Basic
#AnsibleRequires -PowerShell ansible_collections.patchwave.windows.plugins.module_utils._host.PatchwaveTask
#AnsibleRequires -PowerShell ansible_collections.patchwave.windows.plugins.module_utils._scan.PatchwaveWua
#AnsibleRequires -PowerShell ansible_collections.patchwave.windows.plugins.module_utils._install.PatchwaveInstall

# The host side of patchwave.windows.install. The action plugin (plugins/action/install.py) decides
# everything and calls it in rounds, as the scan module is called:
#   status - the host's clock, last boot, pending-reboot probes and free space on the system drive;
#   start  - starts the install worker outside the WinRM logon with the controller's batches (one
#            Install() call each) and content, returns at once with install_id;
#   poll   - running (with progress), done (with the install result) or lost; the result stays
#            until cancel, so a poll answer lost on the way is read again;
#   cancel - acknowledges the result, or asks a running worker to stop before its next update, and
#            removes the work; a worker inside an Install() call is never killed: it finishes that
#            call and stops, and a later start's stale sweep removes its folder after its give-up time;
#   reboot - schedules a restart (shutdown.exe) and answers at once with the boot time it had.
# The worker is plugins/module_utils/_install/PatchwaveInstall.psm1 (Invoke-PatchwaveInstall), run
# by plugins/module_utils/_host/PatchwaveTask.psm1, kind "install". The result shapes are
# plugins/module_utils/_install/contract.py. In check mode status and poll answer as always, start
# and reboot do nothing, cancel removes nothing.

$spec = @{
    options = @{
        _operation = @{ type = 'str'; required = $true; choices = 'status', 'start', 'poll', 'cancel', 'reboot' }
        _operation_options = @{
            type = 'dict'
            options = @{
                install_id = @{ type = 'str' }
                wait_seconds = @{ type = 'int'; default = 0 }
                give_up_seconds = @{ type = 'int'; default = 0 }
                reboot_delay_seconds = @{ type = 'int'; default = 5 }
            }
        }
        batches = @{
            type = 'list'
            elements = 'dict'
            options = @{
                updates = @{
                    type = 'list'
                    elements = 'dict'
                    options = @{
                        update_id = @{ type = 'str'; required = $true }
                        max_run_time_minutes = @{ type = 'int'; default = 60 }
                        latest_start_host = @{ type = 'str' }
                    }
                }
            }
        }
        content = @{
            type = 'dict'
            options = @{
                source = @{ type = 'str'; choices = 'wua', 'distribution_point'; default = 'wua' }
                base_url = @{ type = 'str' }
                files = @{
                    type = 'list'
                    elements = 'dict'
                    options = @{
                        update_id = @{ type = 'str'; required = $true }
                        child_id = @{ type = 'str'; required = $true }
                        file_name = @{ type = 'str'; required = $true }
                        path = @{ type = 'str'; required = $true }
                        # raw, checked as Int64 at start: Ansible.Basic's int is Int32, and update files pass 2 GiB
                        size = @{ type = 'raw'; required = $true }
                        sha1 = @{ type = 'str' }
                        sha256 = @{ type = 'str' }
                    }
                }
            }
        }
        server_selection = @{
            type = 'str'
            default = 'default'
            choices = 'default', 'managed_server', 'windows_update'
        }
        accept_eula = @{ type = 'bool'; default = $true }
        predownload = @{ type = 'bool'; default = $false }
    }
    supports_check_mode = $true
}

$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)

$operation = $module.Params._operation
$operationOptions = $module.Params._operation_options
if ($null -eq $operationOptions) {
    $operationOptions = @{ install_id = $null; wait_seconds = 0; give_up_seconds = 0; reboot_delay_seconds = 5 }
}

$module.Result.changed = $false
$module.Result.operation = $operation

if ($operation -eq 'status') {
    try {
        $status = Get-PatchwaveHostStatus
    }
    catch {
        $module.FailJson("The host's status could not be read: $(Format-PatchwaveError -ErrorObject $_)", $_)
    }
    $module.Result.host_time = $status.host_time
    $module.Result.last_boot = $status.last_boot
    $module.Result.reboot_pending = $status.reboot_pending
    $module.Result.reboot_sources = $status.reboot_sources
    $module.Result.free_space_bytes = $status.free_space_bytes
    $module.ExitJson()
}

if ($operation -eq 'reboot') {
    # at least 1: shutdown.exe implies /f (close applications) only for a timeout above 0
    $delay = [Math]::Max(1, [Int32]$operationOptions.reboot_delay_seconds)
    $lastBoot = Get-PatchwaveLastBoot
    if (-not $lastBoot) {
        $module.FailJson('The restart was not asked for: the last boot time (Win32_OperatingSystem.LastBootUpTime) cannot be read.')
    }
    $module.Result.last_boot = $lastBoot
    $module.Result.delay_seconds = $delay
    if ($module.CheckMode) {
        $module.ExitJson()
    }
    try {
        $restart = Start-PatchwaveRestart -DelaySeconds $delay -Comment 'patchwave.windows.install: restart after installing updates'
    }
    catch {
        $module.FailJson("The restart could not be asked for: $(Format-PatchwaveError -ErrorObject $_)", $_)
    }
    if ($restart.rc -eq 1115) {
        # ERROR_SHUTDOWN_IN_PROGRESS: the host is going down already; the controller waits for the new boot time.
        $module.Warn("A shutdown was already in progress on the host: $($restart.output)")
    }
    elseif ($restart.rc -ne 0) {
        $module.FailJson("shutdown.exe /r failed with exit code $($restart.rc): $($restart.output)")
    }
    $module.Result.changed = $true
    $module.ExitJson()
}

if ($operation -eq 'start') {
    $installId = [Guid]::NewGuid().ToString('D')
    $module.Result.install_id = $installId

    $batches = @($module.Params.batches)
    $content = $module.Params.content
    $problem = Get-PatchwaveInstallRequestProblem -Batches $batches -Content $content
    if ($problem) {
        $module.FailJson("The install request is refused: $problem.")
    }
    $source = 'wua'
    if ($null -ne $content) {
        $source = $content.source
    }

    # Probe: a token WUA serves (become, a batch or service logon) runs the worker with its own
    # token; a WinRM network logon needs the scheduled task.
    $worker = 'scheduled_task'
    if (Test-PatchwaveWuaAccess) {
        $worker = 'in_process'
    }
    $module.Result.worker = $worker

    if ($module.CheckMode) {
        # Nothing is started in check mode; the action plugin plans from the store.
        $module.ExitJson()
    }

    $userSid = [Security.Principal.WindowsIdentity]::GetCurrent().User.Value
    # What earlier installs and scans left behind goes first; a sweep that fails does not stop this install.
    try {
        # the function writes its String[] as one object (, $array): @() would nest it
        $module.Result.stale_removed = Remove-PatchwaveStaleWork -Kind 'install' -Owner $userSid
    }
    catch {
        $module.Result.stale_removed = @()
        $module.Warn("Stale installs and scans could not be cleaned up: $(Format-PatchwaveError -ErrorObject $_)")
    }

    # Two installers at once would refuse each other (WU_E_INSTALL_NOT_ALLOWED) halfway through.
    foreach ($work in (Get-PatchwaveWork)) {
        if ($work.kind -eq 'install' -and $work.state -eq 'running' -and $work.alive) {
            $module.FailJson(("Install {0} (started {1}) is still running on this host; start again once it has " +
                    "ended, or cancel it.") -f ($work.work_id, $work.started))
        }
    }

    $installDirectory = $null
    $taskName = Get-PatchwaveWorkName -Kind 'install' -WorkId $installId
    try {
        $directoryParameters = @{
            Kind = 'install'
            WorkId = $installId
            UserSid = $userSid
            GiveUpSeconds = $operationOptions.give_up_seconds
        }
        $installDirectory = New-PatchwaveWorkDirectory @directoryParameters

        $workerParameters = @{
            WorkDirectory = $installDirectory
            TaskName = $taskName
            Description = 'patchwave.windows install worker; deleted as soon as the worker runs.'
            Parameters = [Ordered]@{
                install_id = $installId
                batches = $batches
                content = $content
                server_selection = $module.Params.server_selection
                accept_eula = $module.Params.accept_eula
                predownload = $module.Params.predownload
                worker = $worker
            }
            Functions = (Get-PatchwaveInstallWorkerFunction)
            EntryPoint = 'Invoke-PatchwaveInstallWorker'
            InProcess = ($worker -eq 'in_process')
            # An S4U logon has no network access (TASK_LOGON_TYPE): a share is read by SYSTEM, with the computer account.
            SystemOnly = ($source -eq 'distribution_point' -and ([String]$content.base_url).StartsWith('\\'))
        }
        $started = Start-PatchwaveWorker @workerParameters
        if ($started.fallback_reason) {
            $module.Warn(("The install task could not start {0}. The install runs as SYSTEM, which reaches shares " +
                    "with the computer account only.") -f $started.fallback_reason.TrimEnd('.'))
        }
    }
    catch {
        $null = Remove-PatchwaveWorkTask -TaskName $taskName
        if ($installDirectory -and (Test-Path -LiteralPath $installDirectory)) {
            Remove-Item -LiteralPath $installDirectory -Recurse -Force -ErrorAction SilentlyContinue
        }
        $hresult = Get-PatchwaveErrorHResult -ErrorObject $_
        if ($null -ne $hresult) {
            $module.Result.hresult = $hresult
        }
        # The host refused the worker (not the request): the controller counts it as a failed install.
        $module.Result.worker_start_failed = $true
        $module.FailJson("Failed to start the install worker ($worker, content from $source): $(Format-PatchwaveError -ErrorObject $_)", $_)
    }
    $module.Result.changed = $true
    $module.ExitJson()
}

$installId = $operationOptions.install_id
if (-not $installId) {
    $module.FailJson("_operation_options.install_id is required for $operation.")
}
try {
    $installDirectory = Get-PatchwaveWorkDirectory -Kind 'install' -WorkId $installId
    $taskName = Get-PatchwaveWorkName -Kind 'install' -WorkId $installId
}
catch {
    $module.FailJson($_.Exception.Message, $_)
}
$module.Result.install_id = $installId

if ($operation -eq 'poll') {
    # The controller is still there: renew the give-up time (a renewal that fails keeps the earlier one).
    try {
        Update-PatchwaveWorkGiveUp -WorkDirectory $installDirectory -Seconds $operationOptions.give_up_seconds
    }
    catch {
        $module.Warn("The give-up time of install $installId could not be renewed: $(Format-PatchwaveError -ErrorObject $_)")
    }

    $state = Wait-PatchwaveWork -WorkDirectory $installDirectory -TaskName $taskName -Seconds $operationOptions.wait_seconds
    $module.Result.state = $state

    if ($state -eq 'lost') {
        $failure = Get-PatchwaveWorkerFailure -WorkDirectory $installDirectory -TaskName $taskName
        $module.Result.worker_error = $failure.error
        $module.Result.last_task_result = $failure.last_task_result
        $why = 'the worker ended without a result (killed, or the host restarted)'
        if (-not [IO.Directory]::Exists($installDirectory)) {
            $why = 'the host has no folder for it (never started here, or already cleaned up)'
        }
        elseif ($failure.error) {
            $why = $failure.error
        }
        if ($null -ne $failure.last_task_result) {
            $why = '{0} (task last result 0x{1:X8})' -f ($why, $failure.last_task_result)
        }
        $module.Result.msg = "install $installId is lost: $why"
    }
    elseif ($state -eq 'done') {
        try {
            $module.Result.install = [Ansible.Basic.AnsibleModule]::FromJson((Read-PatchwaveWorkFile -WorkDirectory $installDirectory -Name 'result.json'))
        }
        catch {
            $module.FailJson("The result of install $installId could not be read: $($_.Exception.Message)", $_)
        }
    }
    else {
        try {
            $progress = Read-PatchwaveWorkFile -WorkDirectory $installDirectory -Name 'progress.json'
            if ($progress) {
                $module.Result.progress = [Ansible.Basic.AnsibleModule]::FromJson($progress)
            }
        }
        catch {
            # Being replaced right now; the next poll reads it.
            $module.Result.progress = @{ phase = 'starting'; updated = (Get-PatchwaveTimestamp) }
        }
    }
    $module.ExitJson()
}

# cancel: the acknowledgement of a result, or the stop of an install still running.
$module.Result.aborted = $false
if ($module.CheckMode) {
    $module.Result.cleaned = $false
    $module.ExitJson()
}
$state = Get-PatchwaveWorkState -WorkDirectory $installDirectory -TaskName $taskName
if ($state -eq 'running') {
    $module.Result.aborted = $true
    try {
        Request-PatchwaveInstallCancel -WorkDirectory $installDirectory
    }
    catch {
        $module.Warn("The stop request for install $installId could not be written: $(Format-PatchwaveError -ErrorObject $_)")
    }
    # The request is written before the phase is read: a worker not yet 'installing' sees it before
    # its next Install() call, so only one inside a call must be waited for, never killed.
    if ((Get-PatchwaveInstallPhase -WorkDirectory $installDirectory) -eq 'installing') {
        $state = Wait-PatchwaveWork -WorkDirectory $installDirectory -TaskName $taskName -Seconds ([Math]::Max(5, $operationOptions.wait_seconds))
        if ($state -eq 'running') {
            $module.Result.cleaned = $false
            $module.Warn(("Install $installId is inside an Install() call; it stops once that call returns, and the " +
                    "next start of a scan or an install on this host after its give-up time removes its folder " +
                    "'$installDirectory'."))
            $module.ExitJson()
        }
    }
}
$module.Result.cleaned = Stop-PatchwaveWorker -WorkDirectory $installDirectory -TaskName $taskName
if (-not $module.Result.cleaned) {
    $module.Warn("Install $installId left its task '$taskName' or its folder '$installDirectory' behind.")
}
$module.ExitJson()
