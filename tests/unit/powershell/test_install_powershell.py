"""The host side of patchwave.windows.install (plugins/modules/install.ps1 and
plugins/module_utils/_install/PatchwaveInstall.psm1), checked without PowerShell.

The generic checks of test_powershell.py (parses, $spec against the docs stub, builder literals and
result keys against the contract, worker functions) and test_powershell_checks.py (COM members
against Microsoft's documentation) cover these files too; this file holds what is particular to the
install: its $spec and its values against plugins/module_utils/_install/contract.py, each
operation's result keys against its own schema, the worker's function list, and the WUA decisions
a lab cannot see (installer settings, result indices, HRESULT signedness, CopyToCache's argument,
the restart's reason code, cancel never killing an Install() call).
"""

from __future__ import annotations

import ast
import os
import re

from ansible_collections.patchwave.windows.plugins.module_utils._install import contract

from tests.psast import (
    PLUGINS,
    NotLiteral,
    Source,
    assigned_literal,
    assignments,
    commands,
    describe_error,
    functions,
    hash_entries,
    literal,
    member_target,
    named,
    plugin_files,
    unwrap,
    walk,
)

MODULE = os.path.join(PLUGINS, "modules", "install.ps1")
INSTALL_UTIL = os.path.join(PLUGINS, "module_utils", "_install", "PatchwaveInstall.psm1")
WUA_UTIL = os.path.join(PLUGINS, "module_utils", "_scan", "PatchwaveWua.psm1")
TASK_UTIL = os.path.join(PLUGINS, "module_utils", "_host", "PatchwaveTask.psm1")

# winuser.h / reason.h, as Microsoft's "System Shutdown Reason Codes" lists them.
SHTDN_REASON_MAJOR_OPERATINGSYSTEM = 0x00020000
SHTDN_REASON_MINOR_HOTFIX = 0x00000011

_SOURCES = {}


def source(path):
    if path not in _SOURCES:
        _SOURCES[path] = Source.load(path)
    return _SOURCES[path]


def function(name, path=INSTALL_UTIL):
    src = source(path)
    return src, functions(src)[name]


def all_functions():
    found = {}
    for path in plugin_files():
        src = source(path)
        for name, node in functions(src).items():
            found[name] = (src, node)
    return found


def spec_options():
    return assigned_literal(source(MODULE), "$spec")["options"]


# ---------------------------------------------------------------- $spec against the contract


def test_spec_options_are_the_contract_options():
    spec = assigned_literal(source(MODULE), "$spec")
    assert spec["supports_check_mode"] is True
    assert set(spec["options"]) == {"_operation", "_operation_options"} | set(contract.OPTION_NAMES)


def test_spec_choices_follow_the_contract():
    options = spec_options()
    assert options["_operation"]["choices"] == list(contract.OPERATIONS)
    assert options["_operation"]["required"] is True
    assert options["server_selection"]["choices"] == list(contract.SERVER_SELECTIONS)
    assert options["server_selection"]["default"] == "default"
    assert options["content"]["options"]["source"]["choices"] == list(contract.CONTENT_SOURCES)
    assert options["content"]["options"]["source"]["default"] == "wua"
    assert options["accept_eula"] == {"type": "bool", "default": True}


def test_spec_suboptions_are_the_contract_shapes():
    """contract.py's docstring: batches [{updates: [{update_id, max_run_time_minutes, latest_start_host}]}],
    content {source, base_url, files: [{update_id, child_id, file_name, path, size, sha1, sha256}]},
    _operation_options {install_id, wait_seconds, give_up_seconds, reboot_delay_seconds}."""
    options = spec_options()
    updates = options["batches"]["options"]["updates"]
    assert options["batches"]["elements"] == "dict" and updates["elements"] == "dict"
    assert updates["options"] == {
        "update_id": {"type": "str", "required": True},
        "max_run_time_minutes": {"type": "int", "default": 60},
        "latest_start_host": {"type": "str"},
    }
    files = options["content"]["options"]["files"]
    assert files["elements"] == "dict"
    assert set(files["options"]) == {"update_id", "child_id", "file_name", "path", "size", "sha1", "sha256"}
    assert {k for k, v in files["options"].items() if v.get("required")} == {
        "update_id", "child_id", "file_name", "path", "size"}
    # Ansible.Basic's int is Int32 (ParseInt); update files can pass 2 GiB, so size is taken raw and
    # read as Int64 by Get-PatchwaveInstallRequestProblem.
    assert files["options"]["size"]["type"] == "raw"
    src, node = function("Get-PatchwaveInstallRequestProblem")
    assert "[Int64]::TryParse([String]$file.size, [ref]$size)" in src.text(node)
    assert options["_operation_options"]["options"] == {
        "install_id": {"type": "str"},
        "wait_seconds": {"type": "int", "default": 0},
        "give_up_seconds": {"type": "int", "default": 0},
        "reboot_delay_seconds": {"type": "int", "default": 5},
    }


def test_the_action_plugin_sends_what_the_spec_takes():
    """The dict literals the action plugin builds for content files (those with a child_id) carry
    exactly the $spec's file keys: an option the $spec lacks fails the module on the host."""
    with open(os.path.join(PLUGINS, "action", "install.py"), encoding="utf-8") as handle:
        tree = ast.parse(handle.read())
    built = [{key.value for key in node.keys if isinstance(key, ast.Constant)} for node in ast.walk(tree)
             if isinstance(node, ast.Dict) and any(isinstance(k, ast.Constant) and k.value == "child_id" for k in node.keys)]
    assert built, "the action plugin builds no content file (a dict with child_id)"
    for keys in built:
        assert keys == set(spec_options()["content"]["options"]["files"]["options"])


# ---------------------------------------------------------------- values against the contract


def _validate_set(src, node, parameter):
    """The ValidateSet values of a function's parameter."""
    for block in walk(node):
        if block.type != "script_parameter":
            continue
        if src.text(next(c for c in named(block) if c.type == "variable")).lower() != "$" + parameter.lower():
            continue
        match = re.search(r"\[ValidateSet\(([^)]*)\)\]", src.text(block))
        assert match, "%s has no ValidateSet" % parameter
        return [item.strip().strip("'") for item in match.group(1).split(",")]
    raise AssertionError("no parameter %s" % parameter)


def test_reasons_and_phases_are_the_contract_values():
    src, node = function("Set-PatchwaveUpdateNotAttempted")
    assert _validate_set(src, node, "Reason") == list(contract.NOT_ATTEMPTED_REASONS)
    src, node = function("Write-PatchwaveInstallProgress")
    # 'starting' is the runner's (Invoke-PatchwaveWorker writes it first)
    assert ["starting"] + _validate_set(src, node, "Phase") == list(contract.PHASES)
    src, node = function("Invoke-PatchwaveWorker", TASK_UTIL)
    assert "-Phase 'starting'" in src.text(node)


def test_progress_record_has_the_contract_keys():
    src, node = function("Write-PatchwaveInstallProgress")
    literals = [n for n in walk(node) if n.type == "hash_literal_expression"]
    assert len(literals) == 1
    keys = [key for key, _value in hash_entries(src, literals[0])]
    # phase and updated come from the runner's Write-PatchwaveProgress
    assert set(keys) | {"phase", "updated"} == set(contract.PROGRESS_SCHEMA["properties"])
    assert "Write-PatchwaveProgress" in commands(src, node)
    src, node = function("Write-PatchwaveProgress", TASK_UTIL)
    record = next(n for n in walk(node) if n.type == "hash_literal_expression")
    assert [key for key, _value in hash_entries(src, record)] == ["phase", "updated"]


def test_outcomes_and_reasons_assigned_are_contract_values():
    """Every literal written to .outcome / .not_attempted_reason / .result_code of a record is one
    the contract allows."""
    src = source(INSTALL_UTIL)
    seen = {"outcome": set(), "not_attempted_reason": set(), "result_code": set()}
    for left, right in assignments(src, src.tree.root_node):
        if left.type != "member_access":
            continue
        key = src.text(named(left)[-1])
        if key in seen:
            try:
                seen[key].add(literal(src, right))
            except NotLiteral:
                continue  # a value read from WUA ([Int32]$updateResult.ResultCode)
    assert seen["outcome"] and seen["outcome"] <= set(contract.UPDATE_OUTCOMES)
    assert seen["not_attempted_reason"] <= set(contract.NOT_ATTEMPTED_REASONS) | {None}
    assert seen["result_code"] and seen["result_code"] <= set(contract.RESULT_CODES)
    for name in ("Set-PatchwaveUpdateNotAttempted", "Invoke-PatchwaveInstall", "Invoke-PatchwaveInstallCall"):
        src, node = function(name)
        for reason in re.findall(r"-Reason '(\w+)'", src.text(node)):
            assert reason in contract.NOT_ATTEMPTED_REASONS, (name, reason)


def _operation_blocks(src):
    """{operation: if-statement node} of the module's top-level `if ($operation -eq '...')` blocks."""
    blocks = {}
    for statement in walk(src.tree.root_node):
        if statement.type != "if_statement" or any(p.type == "function_statement" for p in _ancestors(statement)):
            continue
        match = re.match(r"if \(\$operation -eq '(\w+)'\)", src.text(statement))
        if match:
            assert match.group(1) not in blocks, "two blocks for %s" % match.group(1)
            blocks[match.group(1)] = statement
    return blocks


def _ancestors(node):
    current = node.parent
    while current is not None:
        yield current
        current = current.parent


def _result_keys(src, node, skip=()):
    keys = set()
    for left, _right in assignments(src, node):
        if left.type == "member_access":
            inner = unwrap(named(left)[0])
            if inner.type == "member_access" and src.text(inner).lower() == "$module.result":
                if not any(s.start_byte <= left.start_byte < s.end_byte for s in skip):
                    keys.add(src.text(named(left)[-1]))
    return keys


def test_each_operation_sets_the_keys_of_its_own_schema():
    src = source(MODULE)
    blocks = _operation_blocks(src)
    assert set(blocks) == {"status", "reboot", "start", "poll"}
    common = {"changed", "operation"}
    # everything outside the four blocks: the common keys, install_id for poll and cancel, and cancel's own
    rest = _result_keys(src, src.tree.root_node, skip=list(blocks.values()))
    assert common <= rest
    answers = {name: _result_keys(src, block) | common for name, block in blocks.items()}
    answers["poll"] |= {"install_id"}
    answers["cancel"] = rest
    for operation, schema in contract.RESULT_SCHEMAS.items():
        keys = answers[operation]
        assert keys <= set(schema["properties"]), (operation, sorted(keys - set(schema["properties"])))
        assert set(schema["required"]) <= keys, (operation, sorted(set(schema["required"]) - keys))


def test_status_reuses_the_scan_probes():
    src, node = function("Get-PatchwaveHostStatus")
    assert {"Get-PatchwaveLastBoot", "Get-PatchwaveRebootSource", "Get-PatchwaveTimestamp",
            "Get-PatchwaveFreeSpace"} <= commands(src, node)
    assert "Get-PatchwaveRebootSource -IncludeWua" in src.text(node)
    literals = [n for n in walk(node) if n.type == "hash_literal_expression"]
    keys = {key for key, _value in hash_entries(src, literals[0])}
    assert keys == set(contract.STATUS_SCHEMA["required"]) - {"changed", "operation"}
    src, node = function("Get-PatchwaveFreeSpace")
    assert "IO.DriveInfo" in src.text(node) and "$env:SystemDrive" in src.text(node)


# ---------------------------------------------------------------- the worker


def test_install_worker_gets_every_function_it_calls():
    """worker.ps1 of an install holds the runner's list, $script:WuaWorkerFunctions (functions of
    PatchwaveWua.psm1, each already in that file's own worker list, so known to be worker-safe) and
    $script:InstallWorkerFunctions; together they hold every function the worker reaches."""
    runner = assigned_literal(source(TASK_UTIL), "$script:TaskWorkerFunctions")
    wua_list = assigned_literal(source(WUA_UTIL), "$script:WorkerFunctions")
    shared = assigned_literal(source(INSTALL_UTIL), "$script:WuaWorkerFunctions")
    own = assigned_literal(source(INSTALL_UTIL), "$script:InstallWorkerFunctions")
    assert set(shared) <= set(wua_list) and set(shared) <= set(functions(source(WUA_UTIL)))
    assert set(own) <= set(functions(source(INSTALL_UTIL)))
    defined = all_functions()
    reached, todo = set(), ["Invoke-PatchwaveWorker", "Invoke-PatchwaveInstallWorker"]
    while todo:
        name = todo.pop()
        if name in reached:
            continue
        reached.add(name)
        src, node = defined[name]
        todo.extend(c for c in commands(src, node) if c in defined)
    missing = reached - set(runner) - set(shared) - set(own)
    assert not missing, "the install worker calls functions worker.ps1 lacks: %s" % sorted(missing)
    # and the module hands exactly those lists to the runner
    src, node = function("Get-PatchwaveInstallWorkerFunction")
    assert "@($script:WuaWorkerFunctions) + @($script:InstallWorkerFunctions)" in src.text(node)
    with open(MODULE, encoding="utf-8") as handle:
        module = handle.read()
    assert "Functions = (Get-PatchwaveInstallWorkerFunction)" in module
    assert "EntryPoint = 'Invoke-PatchwaveInstallWorker'" in module


def test_install_worker_script_as_written_parses():
    """As Get-PatchwaveWorkerScript writes it: 'Function <name> {' + body + '}' per function."""
    runner = assigned_literal(source(TASK_UTIL), "$script:TaskWorkerFunctions")
    names = runner + assigned_literal(source(INSTALL_UTIL), "$script:WuaWorkerFunctions") + \
        assigned_literal(source(INSTALL_UTIL), "$script:InstallWorkerFunctions")
    defined = all_functions()
    parts = ["$ErrorActionPreference = 'Stop'"]
    for name in names:
        src, node = defined[name]
        braces = [c for c in node.children if c.type in ("{", "}")]
        parts.append("Function %s {\n%s\n}" % (name, src.data[braces[0].end_byte:braces[-1].start_byte].decode("utf-8")))
    worker = Source("\n".join(parts).encode("utf-8"), "worker.ps1")
    assert describe_error(worker) is None, describe_error(worker)
    assert set(functions(worker)) == set(names)


def test_scan_and_install_share_the_session_and_server_selection():
    """One place creates the WUA session and one sets ServerSelection (PatchwaveWua.psm1)."""
    defined = all_functions()
    creating = sorted(n for n, (src, node) in defined.items() if "Microsoft.Update.Session" in src.text(node)
                      and "New-Object" in src.text(node))
    assert creating == ["New-PatchwaveUpdateSession"]
    setting = sorted(n for n, (src, node) in defined.items() if ".ServerSelection = " in src.text(node))
    assert setting == ["Set-PatchwaveServerSelection"]
    for name in ("Invoke-PatchwaveScan", "Invoke-PatchwaveInstall"):
        src, node = defined[name]
        assert {"New-PatchwaveUpdateSession", "Set-PatchwaveServerSelection"} <= commands(src, node), name


# ---------------------------------------------------------------- WUA decisions no lab can see


def test_installer_is_set_for_a_worker_without_a_user():
    """IUpdateInstaller: AllowSourcePrompts false (no source-media prompt); ForceQuiet is not set
    (IUpdateInstaller2::ForceQuiet: an update that cannot be silenced then fails with
    WU_E_UH_DOESNOTSUPPORTACTION); IsForced is not set (it forces a reinstall)."""
    src, node = function("Invoke-PatchwaveInstallCall")
    text = src.text(node)
    body = text[text.index("param ("):]
    assert "$installer.AllowSourcePrompts = $false" in body
    assert "$installer.ClientApplicationID = 'patchwave.windows'" in body
    assert "ForceQuiet" not in body and "IsForced" not in body
    assert body.index("$installer.Updates = $collection") < body.index("$installer.Install()")
    text_all = source(INSTALL_UTIL).data.decode("utf-8")
    assert ".ForceQuiet =" not in text_all and ".IsForced =" not in text_all


def test_results_are_read_by_zero_based_index_and_hresults_are_unsigned():
    src, node = function("Invoke-PatchwaveInstallCall")
    text = src.text(node)
    assert "for ($index = 0; $index -lt $Items.Count; $index++)" in text
    assert "$installResult.GetUpdateResult($index)" in text
    assert "ConvertTo-PatchwaveUInt32 -Value $updateResult.HResult" in text
    assert "[Bool]$updateResult.RebootRequired" in text
    src, node = function("Invoke-PatchwaveUpdateDownload")
    text = src.text(node)
    assert "$downloadResult.GetUpdateResult(0)" in text and "$collection.Add($Update)" in text
    assert "ConvertTo-PatchwaveUInt32 -Value $updateResult.HResult" in text
    # every HResult read anywhere in the util goes through the conversion (or is a COM error's)
    util = source(INSTALL_UTIL).data.decode("utf-8")
    for match in re.finditer(r"\$\w+\.HResult\b", util):
        line = util[util.rfind("\n", 0, match.start()) + 1:util.find("\n", match.end())]
        assert "ConvertTo-PatchwaveUInt32" in line, line


def test_copy_to_cache_gets_each_child_its_own_files_as_full_paths():
    """IUpdate2::CopyToCache takes an IStringCollection of full file paths, is called on each
    bundled child (IUpdate.BundledUpdates matched by Identity.UpdateID) or on the update itself, and
    only after every file of that child was checked."""
    src, node = function("Copy-PatchwaveUpdateContent")
    text = src.text(node)
    assert "New-Object -ComObject Microsoft.Update.StringColl" in text
    assert "foreach ($bundled in $Update.BundledUpdates)" in text
    assert "$bundled.Identity.UpdateID" in text
    assert "$target.CopyToCache($paths)" in text and "$Update.CopyToCache" not in text
    assert "$null = $paths.Add($local)" in text
    assert text.index("Test-PatchwaveContentFile @expected") < text.index("$paths.Add($local)") < \
        text.index("$target.CopyToCache($paths)")
    assert "$local = Join-Path -Path $folder -ChildPath $name" in text


def test_content_is_checked_before_use():
    src, node = function("Test-PatchwaveContentFile")
    text = src.text(node)
    assert "Get-FileHash -LiteralPath $Path -Algorithm $digest.Name" in text
    assert "Name = 'SHA1'" in text and "Name = 'SHA256'" in text and ".Length" in text
    src, node = function("Get-PatchwaveContentFile")
    text = src.text(node)
    assert "System.Net.WebClient" in text and "[IO.File]::Copy($Source, $partial, $true)" in text
    assert text.index("DownloadFile($Source, $partial)") < text.index("[IO.File]::Move($partial, $Destination)")


def test_eulas_are_accepted_only_by_policy():
    src, node = function("Invoke-PatchwaveInstall")
    text = src.text(node)
    guard = text.index("if (-not $entry.update.EulaAccepted)")
    assert text.index("if (-not $AcceptEula)", guard) < text.index("$entry.update.AcceptEula()", guard)


def test_startable_rule_is_plan_startable():
    """The worker's rule is _install/plan.startable: late when the clock is after the latest start
    (equal starts), the clock advanced by the run times of those put into the call, and once one is
    late every later update of the batch is too."""
    src, node = function("Invoke-PatchwaveInstall")
    text = src.text(node)
    rule = text[text.index("# The startable rule"):text.index("Write-PatchwaveInstallProgress", text.index("# The startable rule"))]
    assert "$clock = [DateTime]::UtcNow" in rule
    assert "if (-not $late -and $null -ne $entry.latest -and $clock -gt $entry.latest)" in rule
    assert rule.index("if ($late)") < rule.index("$clock = $clock.AddMinutes($entry.minutes)")
    assert "-Reason 'window'" in rule


def test_search_pins_missing_updates_with_top_level_or():
    src, node = function("Find-PatchwaveInstallUpdate")
    text = src.text(node)
    assert "$Searcher.Search('IsInstalled=0')" in text
    assert "\"(UpdateID='$_' and IsInstalled=1)\"" in text and "-join ' or '" in text
    src, node = function("Get-PatchwaveInstallRequestProblem")
    assert "[Guid]::TryParse([String]$item.update_id, [ref]$guid)" in src.text(node)


def test_reboot_reason_is_planned_operating_system_hotfix():
    """shutdown /d p:2:17: planned, SHTDN_REASON_MAJOR_OPERATINGSYSTEM (0x00020000 -> 2),
    SHTDN_REASON_MINOR_HOTFIX (0x11 -> 17), Microsoft's system shutdown reason codes."""
    src, node = function("Start-PatchwaveRestart")
    text = src.text(node)
    assert "@('/r', '/t', [String]$DelaySeconds, '/c', $Comment, '/d', 'p:2:17')" in text
    assert (SHTDN_REASON_MAJOR_OPERATINGSYSTEM >> 16, SHTDN_REASON_MINOR_HOTFIX) == (2, 17)
    # a restart already scheduled is left alone (never /a and again: a second restart after a lost answer)
    assert "$rc -eq 1190" in text and "'/a'" not in text
    assert "$ErrorActionPreference = 'Continue'" in text  # stderr of a native command under 'Stop' throws in 5.1
    with open(MODULE, encoding="utf-8") as handle:
        module = handle.read()
    reboot = module[module.index("if ($operation -eq 'reboot')"):module.index("if ($operation -eq 'start')")]
    assert reboot.index("Get-PatchwaveLastBoot") < reboot.index("if ($module.CheckMode)") < \
        reboot.index("Start-PatchwaveRestart")


# ---------------------------------------------------------------- start and cancel


def test_start_checks_sweeps_and_refuses_a_second_install_before_its_folder():
    with open(MODULE, encoding="utf-8") as handle:
        module = handle.read()
    start = module[module.index("if ($operation -eq 'start')"):]
    order = [start.index(step) for step in (
        "Get-PatchwaveInstallRequestProblem", "if ($module.CheckMode)", "Remove-PatchwaveStaleWork -Kind 'install'",
        "$work.kind -eq 'install' -and $work.state -eq 'running'", "New-PatchwaveWorkDirectory @directoryParameters",
        "Start-PatchwaveWorker @workerParameters")]
    assert order == sorted(order)


def test_cancel_never_kills_an_install_call():
    """The stop request is written before the phase is read; a worker recorded as installing is
    waited for and left running when it does not end, never stopped (Stop-PatchwaveWorker kills)."""
    with open(MODULE, encoding="utf-8") as handle:
        module = handle.read()
    cancel = module[module.index("# cancel:"):]
    request = cancel.index("Request-PatchwaveInstallCancel")
    phase = cancel.index("(Get-PatchwaveInstallPhase -WorkDirectory $installDirectory) -eq 'installing'")
    left = cancel.index("$module.Result.cleaned = $false", phase)
    assert request < phase < left < cancel.index("Stop-PatchwaveWorker")
    assert "$module.ExitJson()" in cancel[left:cancel.index("Stop-PatchwaveWorker")]
    # and the worker looks at the request after recording 'installing', right before the call
    src, node = function("Invoke-PatchwaveInstall")
    text = src.text(node)
    installing = text.index("-Phase 'installing'")
    assert installing < text.index("Test-PatchwaveInstallCancel", installing) < \
        text.index("Invoke-PatchwaveInstallCall -Session", installing)


def test_every_update_is_decided():
    """A record starts undecided (not_attempted without a reason); a failed run fails the undecided
    ones, a finished run calls any still undecided cancelled."""
    src, node = function("New-PatchwaveInstallUpdateResult")
    record = dict(hash_entries(src, next(n for n in walk(node) if n.type == "hash_literal_expression")))
    assert literal(src, record["outcome"]) == "not_attempted" and literal(src, record["not_attempted_reason"]) is None
    src, node = function("Invoke-PatchwaveInstall")
    text = src.text(node)
    assert "$_.outcome -eq 'not_attempted' -and $null -eq $_.not_attempted_reason }) -Reason 'cancelled'" in text
    keys_set = {member_target(src, left)[1] for left, _right in assignments(src, node)
                if member_target(src, left) and member_target(src, left)[0] == "$install"}
    assert {"result_code", "hresult", "error", "reboot_required", "finished"} <= keys_set


def test_a_share_is_read_by_a_system_worker():
    """TASK_LOGON_S4U: "there is no access to either the network or to encrypted files", so a UNC
    distribution point is fetched by a SYSTEM worker (the computer account), never an S4U one."""
    with open(MODULE, encoding="utf-8") as handle:
        module = handle.read()
    assert "SystemOnly = ($source -eq 'distribution_point' -and ([String]$content.base_url).StartsWith('\\\\'))" in module
    src, node = function("Start-PatchwaveWorker", TASK_UTIL)
    assert "SystemOnly = $SystemOnly" in src.text(node)
    src, node = function("Start-PatchwaveWorkTask", TASK_UTIL)
    text = src.text(node)
    assert "Where-Object { -not $SystemOnly -or $_.Name -eq 'SYSTEM' })" in text
    assert text.index("Where-Object { -not $SystemOnly") < text.index("foreach ($identity in $identities)")


def test_install_call_checks_busy_and_reboot_first_and_copy_to_cache_refuses_a_bundle():
    """IUpdateInstaller::Install only when IsBusy is false, and not when RebootRequiredBeforeInstallation;
    CopyToCache never on a bundle itself (IUpdate::CopyFromCache: on the bundled updates); a failed
    AcceptEula fails that update only."""
    src, node = function("Invoke-PatchwaveInstallCall")
    text = src.text(node)
    assert text.index("$installer.IsBusy") < text.index("$installer.Install()")
    assert text.index("$installer.RebootRequiredBeforeInstallation") < text.index("$installer.Install()")
    src, node = function("Copy-PatchwaveUpdateContent")
    assert "$Update.BundledUpdates.Count -gt 0" in src.text(node)
    src, node = function("Invoke-PatchwaveInstall")
    text = src.text(node)
    accept = text.index("$entry.update.AcceptEula()")
    assert text.rindex("try {", 0, accept) > text.rindex("if (-not $entry.update.EulaAccepted)", 0, accept)
