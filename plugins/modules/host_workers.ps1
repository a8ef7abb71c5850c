#!powershell

# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

#AnsibleRequires -CSharpUtil Ansible.Basic
#AnsibleRequires -PowerShell ansible_collections.patchwave.windows.plugins.module_utils._host.PatchwaveTask

# patchwave.windows.host_workers: lists the workers that host modules (scan, later install) started
# on this host, and removes them. What a worker is, its state and its removal are
# plugins/module_utils/_host/PatchwaveTask.psm1's (Get-PatchwaveWork, Stop-PatchwaveWorker), the same
# rule every start's sweep uses; the result shape is plugins/module_utils/_host/contract.py.

$spec = @{
    options = @{
        state = @{ type = 'str'; default = 'present'; choices = 'present', 'absent' }
        kind = @{ type = 'str'; default = 'all'; choices = 'all', 'scan', 'install' }
        older_than = @{ type = 'str' }
    }
    supports_check_mode = $true
}

$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)
$module.Result.changed = $false
$module.Result.removed = @()

$minimumAge = 0
if ($module.Params.older_than) {
    $duration = [Regex]::Match($module.Params.older_than, '^\s*(\d+)\s*([smhd])\s*$')
    if (-not $duration.Success) {
        $module.FailJson(("older_than '{0}' is not a duration: give a number and a unit, s, m, h or d, for " +
                "example 90m or 2h.") -f $module.Params.older_than)
    }
    $unitSeconds = @{ s = 1; m = 60; h = 3600; d = 86400 }
    $minimumAge = [Int64]$duration.Groups[1].Value * $unitSeconds[$duration.Groups[2].Value]
}
# Timestamps are ISO 8601 UTC text of one format, so they compare as text.
$cutoff = Get-PatchwaveTimestamp -Date ([DateTime]::UtcNow.AddSeconds(-$minimumAge))

try {
    $work = Get-PatchwaveWork
}
catch {
    $module.FailJson("The workers on this host could not be listed: $(Format-PatchwaveError -ErrorObject $_)", $_)
}

$workers = New-PatchwaveList
foreach ($item in $work) {
    if ($module.Params.kind -ne 'all' -and $item.kind -ne $module.Params.kind) {
        continue
    }
    if ($minimumAge -gt 0 -and [String]::CompareOrdinal($item.started, $cutoff) -gt 0) {
        continue
    }
    $workers.Add([Ordered]@{
            kind = $item.kind
            work_id = $item.work_id
            owner = $item.owner
            started = $item.started
            give_up_at = $item.give_up_at
            state = $item.state
            alive = [Bool]$item.alive
            task_name = $item.task_name
            folder = $item.folder
        })
}
$module.Result.workers = $workers

if ($module.Params.state -eq 'absent' -and $workers.Count -gt 0) {
    $module.Result.changed = $true
    $removed = New-PatchwaveList
    foreach ($worker in $workers) {
        if ($module.CheckMode) {
            $removed.Add($worker.task_name)  # what would be removed
        }
        elseif (Stop-PatchwaveWorker -WorkDirectory $worker.folder -TaskName $worker.task_name) {
            $removed.Add($worker.task_name)
        }
        else {
            $module.Warn("The worker $($worker.task_name) left its task or its folder '$($worker.folder)' behind.")
        }
    }
    $module.Result.removed = $removed
}
$module.ExitJson()
