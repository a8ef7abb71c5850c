"""The static checks of tests/pscheck.py: each one fails on a bad snippet, passes on a good one,
and finds nothing in the collection's own PowerShell (while looking at something there)."""

from __future__ import annotations

import pytest

from tests import pscheck
from tests.psast import Source


def findings(check, *snippets):
    return pscheck.CHECKS[check]([Source(text, "snippet%d.ps1" % i) for i, text in enumerate(snippets)])


def messages(check, *snippets):
    return [f.message for f in findings(check, *snippets)]


# ---------------------------------------------------------------- each check against bad snippets

BAD = {
    "null_string_argument": [
        "[IO.File]::Replace($temporary, $Path, $null)",
        "[System.IO.File]::Replace($a, $b, $null, $true)",
        "[IO.Path]::Combine($null, 'x')",
        "[Some.Unknown]::Method($null)",
    ],
    "signed_hex": [
        "$code = 0x80070569",
        "if ($lastResult -eq 0x80041326) { 'x' }",
        "$x = @{ a = 0xFFFFFFFF }",
    ],
    "powershell7": [
        "Get-Thing && Set-Thing",
        "Get-Thing || throw 'x'",
        "$x = $a ?? 'default'",
        "$y = $a?.Name",
        "$z = $ok ? 1 : 2",
        "$items | ForEach-Object -Parallel { $_ }",
        "$items | % -Parallel { $_ }",
        "$h = ConvertFrom-Json -InputObject $text -AsHashtable",
        "Test-Json -Json $text",
        "if ($IsWindows) { 'x' }",
        '$s = "`e[31mred"',
    ],
    "convertto_json": [
        "$json = $object | ConvertTo-Json -Depth 10",
        "$json = ConvertTo-Json -InputObject $object",
        "$json = ConvertTo-Json $object -Compress",
    ],
    "parameter_case": [
        "Function Set-Owner {\n    [CmdletBinding()]\n    param ($Owner)\n    $owner = $null\n    $Owner\n}\n",
        "Function F {\n    [CmdletBinding()]\n    param ([String]$Path)\n    foreach ($x in 1) { $PATH = 'c' }\n}\n",
    ],
    "read_before_assignment": [
        "Function F {\n    [CmdletBinding()]\n    param ()\n    $total += 1\n}\n",
        "Function F {\n    [CmdletBinding()]\n    param ($Path)\n    Write-Output $Pathh\n}\n",
        "$result = $value\n$value = 1\n",
        "$options = @{ a = 1 }\nInvoke-Thing @option\n",
        "foreach ($i in $list) { $i }\n",
    ],
}


@pytest.mark.parametrize("check, snippet", [(c, s) for c, snippets in BAD.items() for s in snippets])
def test_check_finds_the_bad_snippet(check, snippet):
    found = findings(check, snippet)
    assert found, "%s found nothing in %r" % (check, snippet)
    assert all(f.check == check for f in found)
    assert found[0].where.startswith("snippet0.ps1:1:") or check in ("read_before_assignment", "parameter_case")


GOOD = {
    "null_string_argument": [
        "[IO.File]::Replace($temporary, $Path, [NullString]::Value)",
        "[String]::IsNullOrEmpty($null)",
        "[Runtime.InteropServices.Marshal]::ReleaseComObject($com)",
        "$folder.RegisterTaskDefinition($name, $definition, 6, $null, $null, 2)",  # COM VARIANTs, not .NET strings
    ],
    "signed_hex": [
        "$code = [Convert]::ToUInt32('80070569', 16)",
        "$queued = 0x00041325",
        "$signed = [Int32]0x80070005",
        "$wide = 0x80070005L",
    ],
    "powershell7": [
        "Get-Thing | Where-Object { $_ }",
        "$ok = $?",
        "$items | ForEach-Object { $_ }",
        "$h = ConvertFrom-Json -InputObject $text",
        "if ($a -and $b) { 'x' } else { 'y' }",
    ],
    "convertto_json": [
        "$json = ConvertTo-Json -InputObject $object -Depth 10 -Compress",
        "$json = ConvertTo-Json -Depth 3 -InputObject @($a)",
    ],
    "parameter_case": [
        "Function F {\n    [CmdletBinding()]\n    param ($Seconds)\n    $Seconds = 5\n    $Seconds\n}\n",
        "Function F {\n    [CmdletBinding()]\n    param ($Owner)\n    $workOwner = $Owner\n    $workOwner\n}\n",
    ],
    "read_before_assignment": [
        "Function F {\n    [CmdletBinding()]\n    param ($Path = $PSScriptRoot)\n    $x = $Path\n    $x\n}\n",
        "$value = 1\n$result = $value\n",
        "foreach ($i in @(1, 2)) { $i }\n",
        "$guid = [Guid]::Empty\n[Guid]::TryParse('x', [ref]$guid)\n",
        "$n = 0\n$n += 1\n",
        "Get-Thing -ErrorVariable problems -ErrorAction SilentlyContinue\n$problems\n",
        "try { 1 } catch { $_.Exception.Message }\n$ErrorActionPreference\n",
    ],
}


@pytest.mark.parametrize("check, snippet", [(c, s) for c, snippets in GOOD.items() for s in snippets])
def test_check_passes_the_good_snippet(check, snippet):
    assert findings(check, snippet) == []


def test_null_string_argument_names_the_parameter():
    (message,) = messages("null_string_argument", "[IO.File]::Replace($a, $b, $null)")
    assert "string parameter 3 of [io.file]::replace" in message and "[NullString]::Value" in message


def test_signed_hex_says_what_powershell_reads():
    (message,) = messages("signed_hex", "$x = 0x80070005")
    assert "-2147024891" in message and "2147942405" in message


# ---------------------------------------------------------------- scope in the worker

WORKER_MODULE = """
$script:Prefix = 'patchwave-'
$script:WorkerFunctions = @(
    'Get-Copied'
)

Function Get-Copied {
    <#
    .SYNOPSIS
    Copied into worker.ps1.
    #>
    [CmdletBinding()]
    param ()
    '{0}x' -f $script:Prefix
}

Function Get-NotCopied {
    <#
    .SYNOPSIS
    Runs in the module only.
    #>
    [CmdletBinding()]
    param ()
    $script:Prefix
}
"""


def test_scope_in_worker_finds_script_reads_in_copied_functions_only():
    found = findings("scope_in_worker", WORKER_MODULE)
    assert len(found) == 1
    assert "Get-Copied reads $script:Prefix" in found[0].message


def test_scope_in_worker_allows_writes_and_plain_variables():
    good = WORKER_MODULE.replace("'{0}x' -f $script:Prefix", "$script:Seen = 1\n    $local = 2\n    $local")
    assert findings("scope_in_worker", good) == []
    braced = WORKER_MODULE.replace("-f $script:Prefix", "-f ${global:Prefix}")
    assert len(findings("scope_in_worker", braced)) == 1


# ---------------------------------------------------------------- COM members and enum values

COM_BAD = [
    # a member IUpdateSearcher does not have (IUpdateSession has it)
    ("$session = New-Object -ComObject Microsoft.Update.Session\n$searcher = $session.CreateUpdateSearcher()\n"
     "$searcher.WebProxy = $null\n", "IUpdateSearcher has no member WebProxy"),
    # a typo on an element of a collection
    ("$session = New-Object -ComObject Microsoft.Update.Session\n"
     "$result = $session.CreateUpdateSearcher().Search('IsInstalled=0')\n"
     "foreach ($update in $result.Updates) { $update.Identity.UpdateId; $update.KBArticleIds; $update.IsHiden }\n",
     "IUpdate has no member IsHiden"),
    # Task Scheduler: RunEx gives an IRunningTask, whose PID is EnginePID
    ("$service = New-Object -ComObject Schedule.Service\n$service.Connect()\n"
     "$task = $service.GetFolder('\\').GetTask('x')\n$running = $task.RunEx($null, 2, 0, '')\n$running.ProcessId\n",
     "IRunningTask has no member ProcessId"),
    # a parameter typed by its help text
    ("Function ConvertTo-X {\n    <#\n    .SYNOPSIS\n    x\n\n    .PARAMETER Warning\n    The IUpdateException COM object.\n"
     "    #>\n    [CmdletBinding()]\n    param ($Warning)\n    $Warning.ErrorCode\n}\n",
     "IUpdateException has no member ErrorCode"),
    # a function's .OUTPUTS
    ("Function Get-T {\n    <#\n    .SYNOPSIS\n    x\n\n    .OUTPUTS\n    IRegisteredTask\n    #>\n    [CmdletBinding()]\n"
     "    param ()\n    $null\n}\n$t = Get-T\n$t.Kill()\n", "IRegisteredTask has no member Kill"),
]

ENUM_BAD = [
    ("$s = (New-Object -ComObject Microsoft.Update.Session).CreateUpdateSearcher()\n$s.ServerSelection = 4\n",
     "gets [4]"),
    ("$map = @{ default = 0; other = 7 }\n$s.ServerSelection = $map[$name]\n", "gets [7]"),
    ("$ids = @(\n    @{ Sid = 'x'; LogonType = 2 }\n    @{ Sid = 'y'; LogonType = 9 }\n)\n"
     "foreach ($id in $ids) { $d.Principal.LogonType = $id.LogonType }\n", "gets [9]"),
    ("$d.Principal.RunLevel = 2\n", "gets [2]"),
    ("$d.Principal.RunLevel = Get-Level\n", "cannot be checked statically"),
]


@pytest.mark.parametrize("snippet, expected", COM_BAD + ENUM_BAD)
def test_com_members_finds_undocumented_members_and_values(snippet, expected):
    found = messages("com_members", snippet)
    assert any(expected in m for m in found), found


def test_com_members_accepts_documented_use():
    snippet = (
        "$session = New-Object -ComObject Microsoft.Update.Session\n$session.ClientApplicationID = 'x'\n"
        "$searcher = $session.CreateUpdateSearcher()\n$searcher.ServerSelection = 3\n"
        "$searcher.IncludePotentiallySupersededUpdates = $false\n$result = $searcher.Search('IsInstalled=0')\n"
        "foreach ($update in $result.Updates) {\n    $update.Identity.RevisionNumber\n"
        "    $update.InstallationBehavior.RebootBehavior\n    foreach ($c in $update.Categories) { $c.CategoryID }\n}\n"
        "$service = New-Object -ComObject Schedule.Service\n$definition = $service.NewTask(0)\n"
        "$definition.Settings.MultipleInstances = 2\n$definition.Principal.RunLevel = 1\n"
        "$action = $definition.Actions.Create(0)\n$action.WorkingDirectory = 'C:\\'\n")
    stats = {}
    assert pscheck.check_com_members([Source(snippet)], stats) == []
    assert stats["com_members_checked"] >= 12


# ---------------------------------------------------------------- the collection's own PowerShell


@pytest.fixture(scope="module")
def collection_sources():
    sources = pscheck.load_sources()
    assert len(sources) >= 2, [s.name for s in sources]
    return sources


@pytest.mark.parametrize("check", sorted(pscheck.CHECKS))
def test_collection_powershell_passes(check, collection_sources):
    found = pscheck.CHECKS[check](collection_sources)
    assert found == [], "\n".join(str(f) for f in found)


def test_checks_look_at_the_collection(collection_sources):
    """The checks pass because the code is right, not because they see nothing."""
    stats = {}
    pscheck.check_com_members(collection_sources, stats)
    assert stats["com_members_checked"] >= 60
    worker_lists = [pscheck.worker_function_names(s) for s in collection_sources]
    assert any(len(names) >= 10 for names in worker_lists)
    texts = "\n".join(s.data.decode("utf-8") for s in collection_sources)
    assert texts.count("ConvertTo-Json") >= 1
    for prop in ("ServerSelection", "LogonType", "RunLevel"):
        assert ".%s = " % prop in texts


def test_run_checks_reports_every_check():
    bad = "\n".join(BAD[name][0] for name in BAD) + "\n" + WORKER_MODULE + COM_BAD[0][0]
    found = pscheck.run_checks([Source(bad)])
    assert {f.check for f in found} == set(pscheck.CHECKS)
