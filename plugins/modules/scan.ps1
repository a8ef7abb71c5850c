#!powershell

# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

#AnsibleRequires -CSharpUtil Ansible.Basic
#AnsibleRequires -PowerShell ansible_collections.patchwave.windows.plugins.module_utils._scan.PatchwaveWua

# The host side of patchwave.windows.scan. The action plugin (plugins/action/scan.py) calls it in
# rounds, as ansible.windows.win_updates does:
#   start  - starts a WUA search in a worker outside the WinRM logon, returns at once with scan_id;
#   poll   - reads the scan folder: running (with progress), done (with the scan result) or lost;
#            the result stays there until cancel, so a poll answer lost on the way is read again;
#   cancel - acknowledges (or aborts): stops the worker if it still runs, deletes the task and the
#            scan folder.
# It gathers and returns; TTL, compliance and every other decision are the controller's. The
# result shapes are plugins/module_utils/_scan/contract.py.

$spec = @{
    options = @{
        _operation = @{ type = 'str'; required = $true; choices = 'start', 'poll', 'cancel' }
        _operation_options = @{
            type = 'dict'
            options = @{
                scan_id = @{ type = 'str' }
                wait_seconds = @{ type = 'int'; default = 0 }
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
    $operationOptions = @{ scan_id = $null; wait_seconds = 0 }
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
    $scanDirectory = $null
    $taskName = Get-PatchwaveScanTaskName -ScanId $scanId
    try {
        $scanDirectory = New-PatchwaveScanDirectory -ScanId $scanId -UserSid $userSid

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

        $parameters = [Ordered]@{
            scan_id = $scanId
            server_selection = $serverSelection
            scan_file = $scanFile
            stage_scan_file = $stageScanFile
            stage_error = $stageError
            include_hidden = $module.Params.include_hidden
            search_criteria = $module.Params.search_criteria
            worker = $worker
        }
        Write-PatchwaveJsonFile -Path (Join-Path -Path $scanDirectory -ChildPath 'params.json') -InputObject $parameters
        [IO.File]::WriteAllText(
            (Join-Path -Path $scanDirectory -ChildPath 'worker.ps1'),
            (Get-PatchwaveWorkerScript),
            (New-Object -TypeName Text.UTF8Encoding -ArgumentList $true)
        )

        if ($worker -eq 'in_process') {
            Invoke-PatchwaveScanWorker -ScanDirectory $scanDirectory
        }
        else {
            $powershell = Join-Path -Path $env:SystemRoot -ChildPath 'System32\WindowsPowerShell\v1.0\powershell.exe'
            $taskParameters = @{
                TaskName = $taskName
                Path = $powershell
                Arguments = (Get-PatchwaveWorkerCommand -ScanDirectory $scanDirectory)
                WorkingDirectory = $scanDirectory
                ResultPath = (Join-Path -Path $scanDirectory -ChildPath 'result.json')
            }
            $started = Start-PatchwaveScanTask @taskParameters
            if ($started.fallback_reason) {
                $module.Warn(("The scan task could not start {0}; the scan runs as SYSTEM, which reaches shares " +
                        "with the computer account only.") -f $started.fallback_reason)
            }
        }
    }
    catch {
        $null = Remove-PatchwaveScanTask -TaskName $taskName
        if ($scanDirectory -and (Test-Path -LiteralPath $scanDirectory)) {
            Remove-Item -LiteralPath $scanDirectory -Recurse -Force -ErrorAction SilentlyContinue
        }
        $hresult = Get-PatchwaveErrorHResult -ErrorObject $_
        if ($null -ne $hresult) {
            $module.Result.hresult = $hresult
        }
        $module.FailJson("Failed to start the scan worker ($worker): $(Format-PatchwaveError -ErrorObject $_)", $_)
    }
    $module.ExitJson()
}

$scanId = $operationOptions.scan_id
if (-not $scanId) {
    $module.FailJson("_operation_options.scan_id is required for $operation.")
}
try {
    $scanDirectory = Get-PatchwaveScanDirectory -ScanId $scanId
    $taskName = Get-PatchwaveScanTaskName -ScanId $scanId
}
catch {
    $module.FailJson($_.Exception.Message, $_)
}
$module.Result.scan_id = $scanId

if ($operation -eq 'poll') {
    # Long poll: wait up to wait_seconds for the worker to finish, then say what there is.
    $deadline = [DateTime]::UtcNow.AddSeconds([Math]::Max(0, $operationOptions.wait_seconds))
    while ($true) {
        $state = Get-PatchwaveScanState -ScanDirectory $scanDirectory -TaskName $taskName
        if ($state -ne 'running' -or [DateTime]::UtcNow -ge $deadline) {
            break
        }
        Start-Sleep -Milliseconds 500
    }
    $module.Result.state = $state

    if ($state -eq 'lost') {
        # A worker that died early left its reason in the scan folder, and the task its exit code.
        $failure = Get-PatchwaveWorkerFailure -ScanDirectory $scanDirectory -TaskName $taskName
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
        $resultPath = Join-Path -Path $scanDirectory -ChildPath 'result.json'
        try {
            $module.Result.scan = [Ansible.Basic.AnsibleModule]::FromJson([IO.File]::ReadAllText($resultPath))
        }
        catch {
            $module.FailJson("The result of scan $scanId could not be read: $($_.Exception.Message)", $_)
        }
    }
    elseif ($state -eq 'running') {
        $progressPath = Join-Path -Path $scanDirectory -ChildPath 'progress.json'
        try {
            if ([IO.File]::Exists($progressPath)) {
                $module.Result.progress = [Ansible.Basic.AnsibleModule]::FromJson([IO.File]::ReadAllText($progressPath))
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
    $taskGone = Remove-PatchwaveScanTask -TaskName $taskName
    $process = Get-PatchwaveWorkerProcess -ScanDirectory $scanDirectory
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
    for ($attempt = 0; $attempt -lt 5 -and (Test-Path -LiteralPath $scanDirectory); $attempt++) {
        try {
            Remove-Item -LiteralPath $scanDirectory -Recurse -Force
        }
        catch {
            Start-Sleep -Seconds 1
        }
    }
    $module.Result.cleaned = $taskGone -and -not (Test-Path -LiteralPath $scanDirectory)
    if (-not $module.Result.cleaned) {
        $module.Warn("Scan $scanId left its task '$taskName' or its folder '$scanDirectory' behind.")
    }
}
else {
    $module.Result.cleaned = $false
}
$module.ExitJson()
