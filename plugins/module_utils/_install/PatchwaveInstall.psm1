# Copyright: (c) 2026, patchwave.windows contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

#AnsibleRequires -PowerShell ansible_collections.patchwave.windows.plugins.module_utils._host.PatchwaveTask
#AnsibleRequires -PowerShell ansible_collections.patchwave.windows.plugins.module_utils._scan.PatchwaveWua

# Private to this collection: not a public API, may change without notice.
#
# The host side of patchwave.windows.install: the install worker (search, content, Install() calls)
# and what the module answers itself (status, cancel request, restart). The controller decides
# (plugins/action/install.py): which updates, in which Install() calls, until when each may start,
# where the files come from; this does what it is told and reports. The shapes built here are the
# JSON contract plugins/module_utils/_install/contract.py (INSTALL_SCHEMA, UPDATE_RESULT_SCHEMA,
# PROGRESS_SCHEMA); tests/unit/powershell/test_install_powershell.py holds the hashtable literals of
# New-PatchwaveInstallResult, New-PatchwaveInstallUpdateResult and Write-PatchwaveInstallProgress to
# them.
#
# The worker runs outside the WinRM logon: WUA refuses CreateUpdateDownloader,
# CreateUpdateInstaller, IUpdate.AcceptEula, IUpdate2.CopyToCache and ISystemInformation to a
# network logon ("Using WUA From a Remote Computer"; CopyToCache documents E_ACCESSDENIED "cannot be
# called from a remote computer"). plugins/module_utils/_host/PatchwaveTask.psm1 starts it, kind
# "install", and worker.ps1 gets the runner's functions, the WUA ones listed in
# $script:WuaWorkerFunctions (defined in _scan/PatchwaveWua.psm1) and $script:InstallWorkerFunctions.
#
# Progress: WUA reports percentages only through the asynchronous calls: IDownloadJob/IInstallationJob
# .GetProgress() could be polled, but the job comes only from BeginDownload/BeginInstall, whose
# onProgressChanged/onCompleted arguments are callbacks (IDownloadProgressChangedCallback,
# IInstallationCompletedCallback...: COM interfaces the caller implements, or from a script an
# Automation object whose DISPID 0 is the callback, per Microsoft's remarks on BeginDownload). Windows
# PowerShell can give neither without compiling C# (ansible.windows' win_updates declares the
# interfaces in C# for this), so the worker uses the synchronous Download() and Install() and reports
# per update: a download is 0 then 100 % (per file for a distribution point), an Install() call
# names its first update with install_percent null until it returns. For the same reason a cancel
# takes effect between two updates' downloads and between two Install() calls, never inside one.

$ErrorActionPreference = 'Stop'

# Functions of _scan/PatchwaveWua.psm1 the install worker calls (each in that file's own worker list).
$script:WuaWorkerFunctions = @(
    'New-PatchwaveUpdateSession'
    'Set-PatchwaveServerSelection'
)

# This file's functions copied into worker.ps1.
$script:InstallWorkerFunctions = @(
    'New-PatchwaveInstallResult'
    'New-PatchwaveInstallUpdateResult'
    'Write-PatchwaveInstallProgress'
    'Test-PatchwaveInstallCancel'
    'Set-PatchwaveUpdateNotAttempted'
    'ConvertTo-PatchwaveDigestHex'
    'Get-PatchwaveContentSource'
    'Get-PatchwaveContentFile'
    'Test-PatchwaveContentFile'
    'Copy-PatchwaveUpdateContent'
    'Invoke-PatchwaveUpdateDownload'
    'Invoke-PatchwaveInstallCall'
    'Find-PatchwaveInstallUpdate'
    'Invoke-PatchwaveInstall'
    'Invoke-PatchwaveInstallWorker'
)

Function New-PatchwaveInstallResult {
    <#
    .SYNOPSIS
    Returns an install result (INSTALL_SCHEMA of _install/contract.py) with every key present; the
    worker fills it in, and a failed run is still a complete, valid result.

    .PARAMETER InstallId
    The install's id.

    .PARAMETER ContentSource
    wua or distribution_point.

    .PARAMETER Worker
    scheduled_task or in_process.
    #>
    [CmdletBinding()]
    [OutputType([System.Collections.Specialized.OrderedDictionary])]
    param (
        [Parameter(Mandatory = $true)]
        [String]
        $InstallId,

        [Parameter(Mandatory = $true)]
        [String]
        $ContentSource,

        [Parameter(Mandatory = $true)]
        [String]
        $Worker
    )

    $now = Get-PatchwaveTimestamp
    [Ordered]@{
        install_id = $InstallId
        started = $now
        finished = $now
        result_code = 0  # orcNotStarted until the run says otherwise
        hresult = $null
        error = $null
        reboot_required = $false
        content_source = $ContentSource
        worker = $Worker
        updates = (New-PatchwaveList)
    }
}

Function New-PatchwaveInstallUpdateResult {
    <#
    .SYNOPSIS
    Returns the record of one update the controller asked for (UPDATE_RESULT_SCHEMA of
    _install/contract.py), with every key present and nothing done yet.

    .DESCRIPTION
    It starts as not attempted without a reason yet (undecided); the worker decides it as the update
    goes through the search, its content and its Install() call, and an update still undecided when
    the worker ends was cancelled (a run that fails fails it instead).

    .PARAMETER UpdateId
    The update id as the controller gave it.

    .PARAMETER Batch
    The index of the batch (Install() call) it belongs to.
    #>
    [CmdletBinding()]
    [OutputType([System.Collections.Specialized.OrderedDictionary])]
    param (
        [Parameter(Mandatory = $true)]
        [String]
        $UpdateId,

        [Parameter(Mandatory = $true)]
        [Int32]
        $Batch
    )

    [Ordered]@{
        update_id = $UpdateId
        title = $null
        kb_article_ids = (New-PatchwaveList)
        batch = $Batch
        outcome = 'not_attempted'
        not_attempted_reason = $null
        downloaded = $false
        download_result_code = $null
        download_hresult = $null
        result_code = $null
        hresult = $null
        error = $null
        reboot_required = $false
        started = $null
        finished = $null
        content_error = $null
    }
}

Function Write-PatchwaveInstallProgress {
    <#
    .SYNOPSIS
    Records the install worker's progress (PROGRESS_SCHEMA of _install/contract.py) in progress.json.

    .DESCRIPTION
    The runner's Write-PatchwaveProgress writes phase and updated; this adds the install's own keys,
    every one present (null when it does not apply). A failure to write is ignored there.

    .PARAMETER WorkDirectory
    The work folder.

    .PARAMETER Phase
    searching, downloading, installing or finishing (the runner writes starting).

    .PARAMETER Batch
    The index of the batch at hand.

    .PARAMETER UpdateId
    The update at hand.

    .PARAMETER DownloadPercent
    How much of its content is in WUA's cache (0 to 100).

    .PARAMETER InstallPercent
    How much of it is installed (0 to 100); null while its Install() call runs.

    .PARAMETER Done
    Updates finished, whatever their outcome.

    .PARAMETER Total
    Updates the controller asked for.
    #>
    [CmdletBinding()]
    param (
        [Parameter(Mandatory = $true)]
        [String]
        $WorkDirectory,

        [Parameter(Mandatory = $true)]
        [ValidateSet('searching', 'downloading', 'installing', 'finishing')]
        [String]
        $Phase,

        [Parameter()]
        [AllowNull()]
        [Object]
        $Batch = $null,

        [Parameter()]
        [AllowNull()]
        [String]
        $UpdateId = $null,

        [Parameter()]
        [AllowNull()]
        [Object]
        $DownloadPercent = $null,

        [Parameter()]
        [AllowNull()]
        [Object]
        $InstallPercent = $null,

        [Parameter()]
        [Int32]
        $Done = 0,

        [Parameter()]
        [Int32]
        $Total = 0
    )

    $updateAtHand = $null
    if ($UpdateId) {
        $updateAtHand = $UpdateId
    }
    $detail = [Ordered]@{
        batch = $Batch
        update_id = $updateAtHand
        download_percent = $DownloadPercent
        install_percent = $InstallPercent
        done = $Done
        total = $Total
    }
    Write-PatchwaveProgress -WorkDirectory $WorkDirectory -Phase $Phase -Detail $detail
}

Function Test-PatchwaveInstallCancel {
    <#
    .SYNOPSIS
    Returns whether the controller asked the install to stop (cancel.json in the work folder).

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

    [IO.File]::Exists((Join-Path -Path $WorkDirectory -ChildPath 'cancel.json'))
}

Function Set-PatchwaveUpdateNotAttempted {
    <#
    .SYNOPSIS
    Marks update records as not attempted, with the contract's reason (NOT_ATTEMPTED_REASONS).

    .PARAMETER Record
    The records (New-PatchwaveInstallUpdateResult).

    .PARAMETER Reason
    window, not_found, installed_already, prerequisite_failed or cancelled.
    #>
    [CmdletBinding()]
    param (
        [Parameter(Mandatory = $true)]
        [AllowEmptyCollection()]
        [Object[]]
        $Record,

        [Parameter(Mandatory = $true)]
        [ValidateSet('window', 'not_found', 'installed_already', 'prerequisite_failed', 'cancelled', 'predownload')]
        [String]
        $Reason
    )

    foreach ($item in $Record) {
        $item.outcome = 'not_attempted'
        $item.not_attempted_reason = $Reason
    }
}

Function ConvertTo-PatchwaveDigestHex {
    <#
    .SYNOPSIS
    Returns a digest as upper-case hex: given as hex (any case) or as base64 (as the catalog's XML
    gives it); throws when it is neither for the algorithm.

    .PARAMETER Digest
    The digest text.

    .PARAMETER Bytes
    The digest's length in bytes: 20 for SHA-1, 32 for SHA-256.
    #>
    [CmdletBinding()]
    [OutputType([String])]
    param (
        [Parameter(Mandatory = $true)]
        [String]
        $Digest,

        [Parameter(Mandatory = $true)]
        [Int32]
        $Bytes
    )

    $text = $Digest.Trim()
    if ($text -match ('^[0-9A-Fa-f]{{{0}}}$' -f ($Bytes * 2))) {
        return $text.ToUpperInvariant()
    }
    $raw = $null
    try {
        $raw = [Convert]::FromBase64String($text)
    }
    catch {
        $raw = $null
    }
    if ($null -eq $raw -or $raw.Length -ne $Bytes) {
        throw "the digest '$Digest' is neither $($Bytes * 2) hex digits nor the base64 of $Bytes bytes"
    }
    ([BitConverter]::ToString($raw)).Replace('-', '')
}

Function Get-PatchwaveContentSource {
    <#
    .SYNOPSIS
    Returns where one content file is on the distribution point: base_url and the file's
    /-separated path, joined as a URL (HTTP(S)) or a UNC path.

    .PARAMETER BaseUrl
    http(s)://server/folder or \\server\share\folder.

    .PARAMETER Path
    The file's path below it, /-separated (the WSUS layout: XX/SHA1.ext).
    #>
    [CmdletBinding()]
    [OutputType([String])]
    param (
        [Parameter(Mandatory = $true)]
        [String]
        $BaseUrl,

        [Parameter(Mandatory = $true)]
        [String]
        $Path
    )

    $parts = @($Path.Split('/') | Where-Object { $_ })
    if ($BaseUrl -match '^https?://') {
        $escaped = @($parts | ForEach-Object { [Uri]::EscapeDataString($_) })
        return '{0}/{1}' -f ($BaseUrl.TrimEnd('/'), ($escaped -join '/'))
    }
    '{0}\{1}' -f ($BaseUrl.TrimEnd('\'), ($parts -join '\'))
}

Function Get-PatchwaveContentFile {
    <#
    .SYNOPSIS
    Copies one content file from the distribution point to a local path.

    .DESCRIPTION
    HTTP(S) with System.Net.WebClient.DownloadFile (the worker's own credentials for an intranet
    server that asks: the computer account for SYSTEM; TLS 1.2 added to an explicit protocol set,
    the OS's choice kept when .NET leaves it to the OS); a UNC or local path with System.IO.File.Copy. The file is written beside the
    destination first and renamed, so a file that is there is whole. BITS is not used: it transfers
    a user's jobs only while that user is logged on (Start-BitsTransfer from a task that runs whether
    the user is logged on or not is known to fail with ERROR_NOT_LOGGED_ON, 0x800704DD), which an
    S4U worker is not, and a synchronous download keeps the error with the file it belongs to.

    .PARAMETER Source
    The URL or UNC path (Get-PatchwaveContentSource).

    .PARAMETER Destination
    The local file to write.
    #>
    [CmdletBinding()]
    param (
        [Parameter(Mandatory = $true)]
        [String]
        $Source,

        [Parameter(Mandatory = $true)]
        [String]
        $Destination
    )

    $partial = "$Destination.partial"
    if ($Source -match '^https?://') {
        # SystemDefault (0, .NET 4.7+) lets the OS choose, TLS 1.3 included; an older explicit set gets TLS 1.2 added.
        $protocols = [Net.ServicePointManager]::SecurityProtocol
        if ([Int32]$protocols -ne 0) {
            [Net.ServicePointManager]::SecurityProtocol = $protocols -bor [Net.SecurityProtocolType]::Tls12
        }
        $client = New-Object -TypeName System.Net.WebClient
        try {
            $client.UseDefaultCredentials = $true
            $client.DownloadFile($Source, $partial)
        }
        finally {
            $client.Dispose()
        }
    }
    else {
        [IO.File]::Copy($Source, $partial, $true)
    }
    if ([IO.File]::Exists($Destination)) {
        [IO.File]::Delete($Destination)
    }
    [IO.File]::Move($partial, $Destination)
}

Function Test-PatchwaveContentFile {
    <#
    .SYNOPSIS
    Returns why a fetched file is not the one the controller described (size, SHA-1, SHA-256), or
    $null when it is.

    .PARAMETER Path
    The local file.

    .PARAMETER Size
    Its size in bytes.

    .PARAMETER Sha1
    Its SHA-1 (hex or base64), or empty when not given.

    .PARAMETER Sha256
    Its SHA-256 (hex or base64), or empty when not given.
    #>
    [CmdletBinding()]
    [OutputType([String])]
    param (
        [Parameter(Mandatory = $true)]
        [String]
        $Path,

        [Parameter(Mandatory = $true)]
        [Int64]
        $Size,

        [Parameter()]
        [AllowEmptyString()]
        [String]
        $Sha1,

        [Parameter()]
        [AllowEmptyString()]
        [String]
        $Sha256
    )

    $length = (New-Object -TypeName IO.FileInfo -ArgumentList $Path).Length
    if ($length -ne $Size) {
        return "its size is $length bytes, not $Size"
    }
    $digests = @(
        @{ Name = 'SHA1'; Expected = $Sha1; Bytes = 20 }
        @{ Name = 'SHA256'; Expected = $Sha256; Bytes = 32 }
    )
    foreach ($digest in $digests) {
        if (-not $digest.Expected) {
            continue
        }
        $expected = ConvertTo-PatchwaveDigestHex -Digest $digest.Expected -Bytes $digest.Bytes
        $actual = (Get-FileHash -LiteralPath $Path -Algorithm $digest.Name).Hash.ToUpperInvariant()
        if ($actual -ne $expected) {
            return "its $($digest.Name) is $actual, not $expected"
        }
    }
    $null
}

Function Copy-PatchwaveUpdateContent {
    <#
    .SYNOPSIS
    Puts one update's content into WUA's cache from the distribution point: fetches its files,
    checks them, and hands each bundled child its own files with IUpdate2.CopyToCache. Returns
    {ok, hresult, error}.

    .DESCRIPTION
    The files name the child whose files they are (child_id): a member of IUpdate.BundledUpdates
    (matched by Identity.UpdateID), or the update itself when it has no bundled updates. CopyToCache
    takes an IStringCollection (Microsoft.Update.StringColl) of the files' full paths, not their
    folder, and succeeds only when they are exactly the files WUA would download for this computer
    (Microsoft's remarks on IUpdate2::CopyToCache). Every file is checked (size, each digest given)
    before any is handed over; the local copies are deleted once WUA has its own. Never throws:
    the first failure is returned, hresult set when WUA or the network returned a COM error.

    .PARAMETER Update
    The IUpdate COM object.

    .PARAMETER Files
    The content files of this update: {update_id, child_id, file_name, path, size, sha1, sha256}.

    .PARAMETER BaseUrl
    The distribution point.

    .PARAMETER ContentDirectory
    The local folder the files are fetched into.

    .PARAMETER WorkDirectory
    The work folder (progress).

    .PARAMETER Progress
    The progress so far: {batch, done, total}.
    #>
    [CmdletBinding()]
    [OutputType([System.Collections.Specialized.OrderedDictionary])]
    param (
        [Parameter(Mandatory = $true)]
        [Object]
        $Update,

        [Parameter(Mandatory = $true)]
        [Object[]]
        $Files,

        [Parameter(Mandatory = $true)]
        [String]
        $BaseUrl,

        [Parameter(Mandatory = $true)]
        [String]
        $ContentDirectory,

        [Parameter(Mandatory = $true)]
        [String]
        $WorkDirectory,

        [Parameter(Mandatory = $true)]
        [Collections.IDictionary]
        $Progress
    )

    $outcome = [Ordered]@{ ok = $false; hresult = $null; error = $null }
    $updateId = ([String]$Update.Identity.UpdateID).ToLowerInvariant()
    $children = [Ordered]@{}
    foreach ($file in $Files) {
        $childId = ([Guid][String]$file.child_id).ToString('D')
        if (-not $children.Contains($childId)) {
            $children[$childId] = New-PatchwaveList
        }
        $children[$childId].Add($file)
    }

    $fetched = 0
    $strings = New-PatchwaveList
    try {
        foreach ($childId in @($children.Keys)) {
            $target = $null
            if ($childId -eq $updateId) {
                if ($Update.BundledUpdates.Count -gt 0) {
                    # IUpdate::CopyFromCache: "call this method on the individual updates that are bundled in
                    # this update"; a bundle carries no files of its own. E_INVALIDARG 0x80070057, as CopyToCache.
                    $outcome.hresult = 2147942487
                    $outcome.error = "the files given for $childId cannot be used: it is a bundle, whose files belong to its bundled updates"
                    return $outcome
                }
                $target = $Update
            }
            else {
                foreach ($bundled in $Update.BundledUpdates) {
                    if (([String]$bundled.Identity.UpdateID).ToLowerInvariant() -eq $childId) {
                        $target = $bundled
                        break
                    }
                }
            }
            if ($null -eq $target) {
                # E_INVALIDARG 0x80070057, what IUpdate2.CopyToCache documents for files that are not the update's
                $outcome.hresult = 2147942487
                $outcome.error = "the files of $childId cannot be used: it is neither this update nor one of its bundled updates on this host"
                return $outcome
            }

            $folder = Join-Path -Path $ContentDirectory -ChildPath $childId
            $null = New-Item -Path $folder -ItemType Directory -Force
            $paths = New-Object -ComObject Microsoft.Update.StringColl
            $strings.Add($paths)  # not +=: an array plus a COM collection would take its items
            foreach ($file in $children[$childId]) {
                $name = [String]$file.file_name
                $source = Get-PatchwaveContentSource -BaseUrl $BaseUrl -Path ([String]$file.path)
                $local = Join-Path -Path $folder -ChildPath $name
                try {
                    Get-PatchwaveContentFile -Source $source -Destination $local
                }
                catch {
                    $outcome.hresult = Get-PatchwaveErrorHResult -ErrorObject $_
                    $outcome.error = "file $name could not be fetched from $($source): $(Format-PatchwaveError -ErrorObject $_)"
                    return $outcome
                }
                $expected = @{ Path = $local; Size = [Int64]$file.size; Sha1 = [String]$file.sha1; Sha256 = [String]$file.sha256 }
                $problem = Test-PatchwaveContentFile @expected
                if ($problem) {
                    # WU_E_DM_INCORRECTFILEHASH 0x80246002 (wuerror.h: the file digest did not match the expected value)
                    $outcome.hresult = 2149867522
                    $outcome.error = "file $name from $source is refused: $problem"
                    return $outcome
                }
                $null = $paths.Add($local)
                $fetched++
                $percent = [Int32][Math]::Floor(100 * $fetched / [Math]::Max(1, $Files.Count))
                Write-PatchwaveInstallProgress -WorkDirectory $WorkDirectory -Phase 'downloading' -Batch $Progress.batch `
                    -UpdateId $updateId -DownloadPercent $percent -Done $Progress.done -Total $Progress.total
            }
            try {
                $target.CopyToCache($paths)
            }
            catch {
                $outcome.hresult = Get-PatchwaveErrorHResult -ErrorObject $_
                $outcome.error = "IUpdate2.CopyToCache refused the files of $($childId): $(Format-PatchwaveError -ErrorObject $_)"
                return $outcome
            }
            # WUA has its own copy now; a failure to delete ours only costs space until cancel.
            Remove-Item -LiteralPath $folder -Recurse -Force -ErrorAction SilentlyContinue
        }
        $outcome.ok = $true
        $outcome
    }
    catch {
        $outcome.hresult = Get-PatchwaveErrorHResult -ErrorObject $_
        $outcome.error = "the content could not be prepared: $(Format-PatchwaveError -ErrorObject $_)"
        $outcome
    }
    finally {
        Remove-PatchwaveComObject -InputObject @($strings)
    }
}

Function Invoke-PatchwaveUpdateDownload {
    <#
    .SYNOPSIS
    Downloads one update with WUA's own downloader (IUpdateDownloader.Download) from the host's
    configured service; returns {result_code, hresult, error}.

    .DESCRIPTION
    One update per Download() call, so each update has its own result and a cancel can come
    between two. result_code and hresult are IDownloadResult.GetUpdateResult(0)'s ResultCode and
    HResult (unsigned); a Download() that throws is result_code 4 (orcFailed) with its HRESULT.

    .PARAMETER Session
    The IUpdateSession COM object.

    .PARAMETER Update
    The IUpdate COM object.
    #>
    [CmdletBinding()]
    [OutputType([System.Collections.Specialized.OrderedDictionary])]
    param (
        [Parameter(Mandatory = $true)]
        [Object]
        $Session,

        [Parameter(Mandatory = $true)]
        [Object]
        $Update
    )

    $outcome = [Ordered]@{ result_code = 4; hresult = $null; error = $null }
    $collection = $null
    $downloader = $null
    $downloadResult = $null
    $updateResult = $null
    try {
        $collection = New-Object -ComObject Microsoft.Update.UpdateColl
        $null = $collection.Add($Update)
        $downloader = $Session.CreateUpdateDownloader()
        $downloader.ClientApplicationID = 'patchwave.windows'
        $downloader.Updates = $collection
        $downloadResult = $downloader.Download()
        $updateResult = $downloadResult.GetUpdateResult(0)  # the index in Updates, 0-based
        $outcome.result_code = [Int32]$updateResult.ResultCode
        $outcome.hresult = ConvertTo-PatchwaveUInt32 -Value $updateResult.HResult
    }
    catch {
        $outcome.result_code = 4
        $outcome.hresult = Get-PatchwaveErrorHResult -ErrorObject $_
        $outcome.error = "the download failed: $(Format-PatchwaveError -ErrorObject $_)"
    }
    finally {
        Remove-PatchwaveComObject -InputObject @($updateResult, $downloadResult, $downloader, $collection)
    }
    $outcome
}

Function Invoke-PatchwaveInstallCall {
    <#
    .SYNOPSIS
    Runs one Install() call (IUpdateInstaller.Install) for the updates given and fills in their
    records: result_code, hresult, reboot_required, started, finished, outcome.

    .DESCRIPTION
    The installer is set for a worker without a user: AllowSourcePrompts false (no prompt for source
    media). ForceQuiet (IUpdateInstaller2) is left false: Microsoft documents that an update which
    cannot be silenced then fails with WU_E_UH_DOESNOTSUPPORTACTION, and the worker has no desktop
    to show anything on anyway. Each update's result is IInstallationResult.GetUpdateResult(i) with
    i its 0-based index in IUpdateInstaller.Updates: ResultCode (OperationResultCode), HResult
    (unsigned here) and RebootRequired. Succeeded (2) and SucceededWithErrors (3) are installed;
    NotStarted (0) means WUA left it after an earlier failure of the call (prerequisite_failed);
    anything else failed. A call that throws fails every update of it with its HRESULT.

    .PARAMETER Session
    The IUpdateSession COM object.

    .PARAMETER Items
    The updates of the call, in order: {record, update (WUA's object of the update)}.
    #>
    [CmdletBinding()]
    param (
        [Parameter(Mandatory = $true)]
        [Object]
        $Session,

        [Parameter(Mandatory = $true)]
        [Object[]]
        $Items
    )

    $collection = $null
    $installer = $null
    $installResult = $null
    $updateResults = New-PatchwaveList
    $started = Get-PatchwaveTimestamp
    try {
        $collection = New-Object -ComObject Microsoft.Update.UpdateColl
        foreach ($item in $Items) {
            $null = $collection.Add($item.update)
            $item.record.started = $started
        }
        $installer = $Session.CreateUpdateInstaller()
        $installer.ClientApplicationID = 'patchwave.windows'
        $installer.AllowSourcePrompts = $false
        $installer.Updates = $collection
        # IUpdateInstaller::Install: call it only when IsBusy is false (else WU_E_INSTALL_NOT_ALLOWED);
        # RebootRequiredBeforeInstallation: a restart must happen before these updates can install.
        $refusal = $null
        if ($installer.IsBusy) {
            $refusal = 'another installation is in progress on the host (IUpdateInstaller.IsBusy)'
        }
        elseif ($installer.RebootRequiredBeforeInstallation) {
            $refusal = 'a restart is required before these updates can be installed (IUpdateInstaller.RebootRequiredBeforeInstallation)'
        }
        if ($refusal) {
            $finished = Get-PatchwaveTimestamp
            foreach ($item in $Items) {
                $item.record.outcome = 'failed'
                $item.record.not_attempted_reason = $null
                $item.record.result_code = 4
                $item.record.hresult = 2149842966  # WU_E_INSTALL_NOT_ALLOWED 0x80240016
                $item.record.error = $refusal
                $item.record.finished = $finished
            }
            return
        }
        $installResult = $installer.Install()
        $finished = Get-PatchwaveTimestamp
        for ($index = 0; $index -lt $Items.Count; $index++) {
            $record = $Items[$index].record
            $updateResult = $installResult.GetUpdateResult($index)
            $updateResults.Add($updateResult)
            $record.finished = $finished
            $record.result_code = [Int32]$updateResult.ResultCode
            $record.hresult = ConvertTo-PatchwaveUInt32 -Value $updateResult.HResult
            $record.reboot_required = [Bool]$updateResult.RebootRequired
            if ($record.result_code -in @(2, 3)) {
                $record.outcome = 'installed'
                $record.not_attempted_reason = $null
            }
            elseif ($record.result_code -eq 0) {
                Set-PatchwaveUpdateNotAttempted -Record @($record) -Reason 'prerequisite_failed'
            }
            else {
                $record.outcome = 'failed'
                $record.not_attempted_reason = $null
            }
        }
    }
    catch {
        $finished = Get-PatchwaveTimestamp
        $hresult = Get-PatchwaveErrorHResult -ErrorObject $_
        $message = "the Install() call failed: $(Format-PatchwaveError -ErrorObject $_)"
        foreach ($item in $Items) {
            if ($item.record.outcome -eq 'installed') {
                continue  # its result was read before the failure
            }
            $item.record.outcome = 'failed'
            $item.record.not_attempted_reason = $null
            $item.record.result_code = 4
            $item.record.hresult = $hresult
            $item.record.error = $message
            $item.record.finished = $finished
        }
    }
    finally {
        Remove-PatchwaveComObject -InputObject (@($updateResults) + @($installResult, $installer, $collection))
    }
}

Function Find-PatchwaveInstallUpdate {
    <#
    .SYNOPSIS
    Searches WUA for the updates the controller asked for; returns {found, installed}: dictionaries
    of the IUpdate COM objects by lower-case update id.

    .DESCRIPTION
    One search, IsInstalled=0 (what is still to install, hidden or not), keeps the wanted ids. Only
    when some are missing, a second search pins them, (UpdateID='<id>' and IsInstalled=1) or ...
    (OR only at the top level, as the criteria grammar requires), to tell installed_already from
    not_found; a failure of that second search leaves them not_found. The ids are GUIDs (the module
    checks them), so they need no escaping. Throws when the first search fails; its result code, if
    not Succeeded (2) or SucceededWithErrors (3), is thrown too.

    .PARAMETER Searcher
    The IUpdateSearcher COM object, pointed at its service.

    .PARAMETER UpdateIds
    The wanted update ids, lower case.

    .PARAMETER Release
    A list the search results are added to, for the caller to release with the updates.
    #>
    [CmdletBinding()]
    [OutputType([System.Collections.Specialized.OrderedDictionary])]
    param (
        [Parameter(Mandatory = $true)]
        [Object]
        $Searcher,

        [Parameter(Mandatory = $true)]
        [AllowEmptyCollection()]
        [String[]]
        $UpdateIds,

        [Parameter(Mandatory = $true)]
        [AllowEmptyCollection()]
        [System.Collections.Generic.List[Object]]
        $Release
    )

    $wanted = @{}
    foreach ($id in $UpdateIds) {
        $wanted[$id] = $true
    }
    $found = @{}
    $installed = @{}
    $searchResult = $Searcher.Search('IsInstalled=0')
    $Release.Add($searchResult)
    $resultCode = [Int32]$searchResult.ResultCode
    if ($resultCode -notin @(2, 3)) {
        throw "The search for the updates ended with result code $resultCode."
    }
    foreach ($update in $searchResult.Updates) {
        $id = ([String]$update.Identity.UpdateID).ToLowerInvariant()
        if ($wanted.ContainsKey($id) -and -not $found.ContainsKey($id)) {
            $found[$id] = $update
        }
    }

    $missing = @($UpdateIds | Where-Object { -not $found.ContainsKey($_) } | Select-Object -Unique)
    if ($missing.Count -gt 0) {
        $criteria = ($missing | ForEach-Object { "(UpdateID='$_' and IsInstalled=1)" }) -join ' or '
        try {
            $installedResult = $Searcher.Search($criteria)
            $Release.Add($installedResult)
            foreach ($update in $installedResult.Updates) {
                $id = ([String]$update.Identity.UpdateID).ToLowerInvariant()
                if ($wanted.ContainsKey($id)) {
                    $installed[$id] = $update
                }
            }
        }
        catch {
            Write-Verbose -Message "The search for installed updates failed: $(Format-PatchwaveError -ErrorObject $_)"
        }
    }
    [Ordered]@{ found = $found; installed = $installed }
}

Function Invoke-PatchwaveInstall {
    <#
    .SYNOPSIS
    Runs the install the controller described and returns its result (INSTALL_SCHEMA); never throws
    for a WUA failure.

    .DESCRIPTION
    1. Search (Find-PatchwaveInstallUpdate): an update not returned is not_attempted not_found, or
       installed_already when WUA has it installed.
    2. For each batch, in order:
       - an update already late (the host's clock past its latest_start_host), and every update
         after it in the batch, is not_attempted window, and its content is not fetched;
       - content: with source wua, IUpdateDownloader (one update per call) for what WUA has not
         downloaded yet; with distribution_point, Copy-PatchwaveUpdateContent; a failure is
         download_failed (download_result_code 4, download_hresult, content_error);
       - right before the Install() call the startable rule (_install/plan.startable): an update
         goes into the call while the host's clock plus the maximum run times of the updates before
         it in the call is not after its latest start; the first that would be, and the rest of
         the batch, are not_attempted window;
       - license terms: with accept_eula, IUpdate.AcceptEula for an update whose EulaAccepted is
         false; without it such an update fails ("license terms not accepted") and stays out of
         the call;
       - one Install() call (Invoke-PatchwaveInstallCall).
       With Predownload, every update's content is fetched whatever its latest start (downloads are
       not bound by windows), and nothing is installed: each update that got its content is
       not_attempted predownload.
    3. reboot_required: ISystemInformation.RebootRequired at the end.
    A cancel (cancel.json) is seen before each batch, each update's content and each Install()
    call: what has not started is not_attempted cancelled. A search that fails fails every update
    (result_code 4 for the run, its HRESULT and text). The run's result_code: 4 when the run failed
    or every update that was attempted failed, 3 when some did, else 2.

    Must run where WUA allows it: not under a WinRM network logon.

    .PARAMETER InstallId
    The install's id.

    .PARAMETER Batches
    The Install() calls: {updates: [{update_id, max_run_time_minutes, latest_start_host}]}.

    .PARAMETER Content
    {source, base_url, files}.

    .PARAMETER ServerSelection
    default, managed_server or windows_update.

    .PARAMETER AcceptEula
    Accept license terms that are not accepted yet.

    .PARAMETER Predownload
    Only fetch and verify content (and hand it to WUA); install nothing.

    .PARAMETER WorkDirectory
    The work folder (content, progress, cancel request).

    .PARAMETER Worker
    scheduled_task or in_process, reported in the result.
    #>
    [CmdletBinding()]
    [OutputType([System.Collections.Specialized.OrderedDictionary])]
    param (
        [Parameter(Mandatory = $true)]
        [String]
        $InstallId,

        [Parameter(Mandatory = $true)]
        [AllowEmptyCollection()]
        [Object[]]
        $Batches,

        [Parameter()]
        [AllowNull()]
        [Object]
        $Content,

        [Parameter(Mandatory = $true)]
        [String]
        $ServerSelection,

        [Parameter(Mandatory = $true)]
        [Bool]
        $AcceptEula,

        [Parameter()]
        [Bool]
        $Predownload = $false,

        [Parameter(Mandatory = $true)]
        [String]
        $WorkDirectory,

        [Parameter(Mandatory = $true)]
        [String]
        $Worker
    )

    $source = 'wua'
    $baseUrl = $null
    $contentFiles = @()
    if ($null -ne $Content -and $Content.source -eq 'distribution_point') {
        $source = 'distribution_point'
        $baseUrl = [String]$Content.base_url
        $contentFiles = @($Content.files)
    }
    $install = New-PatchwaveInstallResult -InstallId $InstallId -ContentSource $source -Worker $Worker

    # One record per update asked for, in the controller's order, with its batch.
    $plan = New-PatchwaveList
    for ($batchIndex = 0; $batchIndex -lt $Batches.Count; $batchIndex++) {
        $entries = New-PatchwaveList
        foreach ($item in @($Batches[$batchIndex].updates)) {
            $latest = $null
            if ($item.latest_start_host -is [DateTime]) {
                $latest = $item.latest_start_host.ToUniversalTime()  # PowerShell 6+ reads ISO 8601 as DateTime
            }
            elseif ($item.latest_start_host) {
                # an unreadable limit starts nothing (the module checks it at start)
                $latest = ConvertFrom-PatchwaveTimestamp -Text ([String]$item.latest_start_host) -Default ([DateTime]::MinValue)
            }
            $record = New-PatchwaveInstallUpdateResult -UpdateId ([String]$item.update_id) -Batch $batchIndex
            $install.updates.Add($record)
            $entries.Add([Ordered]@{
                    id = ([Guid][String]$item.update_id).ToString('D')
                    record = $record
                    latest = $latest
                    minutes = [Int32]$item.max_run_time_minutes
                    update = $null
                })
        }
        $plan.Add($entries)
    }
    $total = $install.updates.Count
    $done = 0

    $session = $null
    $searcher = $null
    $systemInfo = $null
    $release = New-PatchwaveList
    try {
        Write-PatchwaveInstallProgress -WorkDirectory $WorkDirectory -Phase 'searching' -Total $total
        $session = New-PatchwaveUpdateSession
        $searcher = $session.CreateUpdateSearcher()
        Set-PatchwaveServerSelection -Searcher $searcher -ServerSelection $ServerSelection
        $ids = @($plan | ForEach-Object { $_ } | ForEach-Object { $_.id })
        $search = Find-PatchwaveInstallUpdate -Searcher $searcher -UpdateIds $ids -Release $release

        foreach ($entries in $plan) {
            foreach ($entry in $entries) {
                $update = $null
                if ($search.found.ContainsKey($entry.id)) {
                    $update = $search.found[$entry.id]
                    $entry.update = $update
                }
                elseif ($search.installed.ContainsKey($entry.id)) {
                    $update = $search.installed[$entry.id]
                    Set-PatchwaveUpdateNotAttempted -Record @($entry.record) -Reason 'installed_already'
                    $done++
                }
                else {
                    Set-PatchwaveUpdateNotAttempted -Record @($entry.record) -Reason 'not_found'
                    $done++
                }
                if ($null -ne $update) {
                    $entry.record.title = [String]$update.Title
                    foreach ($kb in $update.KBArticleIDs) {
                        $entry.record.kb_article_ids.Add([String]$kb)
                    }
                }
            }
        }

        $contentDirectory = Join-Path -Path $WorkDirectory -ChildPath 'content'
        $cancelled = $false
        for ($batchIndex = 0; $batchIndex -lt $plan.Count; $batchIndex++) {
            $pending = @($plan[$batchIndex] | Where-Object { $null -ne $_.update })
            if ($pending.Count -eq 0) {
                continue
            }
            if ($cancelled -or (Test-PatchwaveInstallCancel -WorkDirectory $WorkDirectory)) {
                $cancelled = $true
                Set-PatchwaveUpdateNotAttempted -Record @($pending | ForEach-Object { $_.record }) -Reason 'cancelled'
                $done += $pending.Count
                continue
            }

            # An update already late stays late: it and the rest of the batch wait, unfetched.
            $now = [DateTime]::UtcNow
            $late = $false
            $fetch = New-PatchwaveList
            foreach ($entry in $pending) {
                if (-not $Predownload -and -not $late -and $null -ne $entry.latest -and $now -gt $entry.latest) {
                    $late = $true
                }
                if ($late) {
                    Set-PatchwaveUpdateNotAttempted -Record @($entry.record) -Reason 'window'
                    $done++
                }
                else {
                    $fetch.Add($entry)
                }
            }

            $ready = New-PatchwaveList
            foreach ($entry in $fetch) {
                if ($cancelled -or (Test-PatchwaveInstallCancel -WorkDirectory $WorkDirectory)) {
                    $cancelled = $true
                    Set-PatchwaveUpdateNotAttempted -Record @($entry.record) -Reason 'cancelled'
                    $done++
                    continue
                }
                $record = $entry.record
                $update = $entry.update
                if (-not $update.IsDownloaded) {
                    Write-PatchwaveInstallProgress -WorkDirectory $WorkDirectory -Phase 'downloading' -Batch $batchIndex `
                        -UpdateId $record.update_id -DownloadPercent 0 -Done $done -Total $total
                    if ($source -eq 'wua') {
                        $downloaded = Invoke-PatchwaveUpdateDownload -Session $session -Update $update
                        $record.download_result_code = $downloaded.result_code
                        $record.download_hresult = $downloaded.hresult
                        if ($downloaded.result_code -notin @(2, 3)) {
                            $record.content_error = $downloaded.error
                        }
                    }
                    else {
                        $files = @($contentFiles | Where-Object { ([Guid][String]$_.update_id).ToString('D') -eq $entry.id })
                        if ($files.Count -eq 0) {
                            $record.download_result_code = 4
                            # WU_E_DM_NOTDOWNLOADED 0x80246007 (wuerror.h: the update has not been downloaded)
                            $record.download_hresult = 2149867527
                            $record.content_error = 'the distribution point has no files for this update'
                        }
                        else {
                            $copyParameters = @{
                                Update = $update
                                Files = $files
                                BaseUrl = $baseUrl
                                ContentDirectory = $contentDirectory
                                WorkDirectory = $WorkDirectory
                                Progress = @{ batch = $batchIndex; done = $done; total = $total }
                            }
                            $copied = Copy-PatchwaveUpdateContent @copyParameters
                            $record.download_result_code = 4
                            $record.download_hresult = $copied.hresult
                            $record.content_error = $copied.error
                            if ($copied.ok) {
                                $record.download_result_code = 2
                            }
                        }
                    }
                }
                # IsDownloaded of the object the search returned is not documented to change after
                # Download() or CopyToCache, so a successful step says it too.
                $record.downloaded = ([Bool]$update.IsDownloaded) -or
                    ($null -ne $record.download_result_code -and $record.download_result_code -in @(2, 3))
                if ($null -ne $record.download_result_code -and $record.download_result_code -notin @(2, 3)) {
                    $record.outcome = 'download_failed'
                    $record.not_attempted_reason = $null
                    $done++
                    continue
                }
                Write-PatchwaveInstallProgress -WorkDirectory $WorkDirectory -Phase 'downloading' -Batch $batchIndex `
                    -UpdateId $record.update_id -DownloadPercent 100 -Done $done -Total $total
                $ready.Add($entry)
            }

            if ($Predownload) {
                # the content is in WUA's cache now; the install comes with a later run, in a window
                Set-PatchwaveUpdateNotAttempted -Record @($ready | ForEach-Object { $_.record }) -Reason 'predownload'
                $done += $ready.Count
                continue
            }

            # The startable rule, on the host's clock, right before the call.
            $clock = [DateTime]::UtcNow
            $late = $false
            $call = New-PatchwaveList
            foreach ($entry in $ready) {
                if (-not $late -and $null -ne $entry.latest -and $clock -gt $entry.latest) {
                    $late = $true
                }
                if ($late) {
                    Set-PatchwaveUpdateNotAttempted -Record @($entry.record) -Reason 'window'
                    $done++
                    continue
                }
                $clock = $clock.AddMinutes($entry.minutes)
                if (-not $entry.update.EulaAccepted) {
                    if (-not $AcceptEula) {
                        $entry.record.outcome = 'failed'
                        $entry.record.not_attempted_reason = $null
                        $entry.record.error = 'its license terms are not accepted and accept_eula is false'
                        $done++
                        continue
                    }
                    try {
                        $entry.update.AcceptEula()
                    }
                    catch {
                        $entry.record.outcome = 'failed'
                        $entry.record.not_attempted_reason = $null
                        $entry.record.hresult = Get-PatchwaveErrorHResult -ErrorObject $_
                        $entry.record.error = "its license terms could not be accepted: $(Format-PatchwaveError -ErrorObject $_)"
                        $done++
                        continue
                    }
                }
                $call.Add([Ordered]@{ record = $entry.record; update = $entry.update })
            }
            if ($call.Count -eq 0) {
                continue
            }

            Write-PatchwaveInstallProgress -WorkDirectory $WorkDirectory -Phase 'installing' -Batch $batchIndex `
                -UpdateId $call[0].record.update_id -DownloadPercent 100 -Done $done -Total $total
            # Checked after 'installing' is recorded: a cancel that saw another phase knows no Install() follows.
            if (Test-PatchwaveInstallCancel -WorkDirectory $WorkDirectory) {
                $cancelled = $true
                Set-PatchwaveUpdateNotAttempted -Record @($call | ForEach-Object { $_.record }) -Reason 'cancelled'
                $done += $call.Count
                continue
            }
            Invoke-PatchwaveInstallCall -Session $session -Items $call.ToArray()
            $done += $call.Count
            Write-PatchwaveInstallProgress -WorkDirectory $WorkDirectory -Phase 'installing' -Batch $batchIndex `
                -UpdateId $call[$call.Count - 1].record.update_id -DownloadPercent 100 -InstallPercent 100 -Done $done -Total $total
        }

        Write-PatchwaveInstallProgress -WorkDirectory $WorkDirectory -Phase 'finishing' -Done $done -Total $total
        $attempted = @($install.updates | Where-Object { $_.outcome -in @('installed', 'failed', 'download_failed') })
        $failed = @($attempted | Where-Object { $_.outcome -ne 'installed' })
        $install.result_code = 2
        if ($failed.Count -gt 0) {
            $install.result_code = 3
            if ($failed.Count -eq $attempted.Count) {
                $install.result_code = 4
            }
        }
    }
    catch {
        $install.result_code = 4
        $install.hresult = Get-PatchwaveErrorHResult -ErrorObject $_
        $install.error = Format-PatchwaveError -ErrorObject $_
        foreach ($record in $install.updates) {
            if ($record.outcome -ne 'not_attempted' -or $null -ne $record.not_attempted_reason) {
                continue  # decided before the failure
            }
            $record.outcome = 'failed'
            $record.not_attempted_reason = $null
            $record.hresult = $install.hresult
            $record.error = "the install did not run: $($install.error)"
        }
    }
    finally {
        $updates = @($plan | ForEach-Object { $_ } | ForEach-Object { $_.update })
        try {
            Remove-PatchwaveComObject -InputObject (@($updates) + @($release) + @($searcher, $session))
        }
        catch {
            # Released already (the same update twice): the result matters more than the reference count.
            Write-Verbose -Message "WUA objects could not be released: $($_.Exception.Message)"
        }
    }

    # Still undecided: the worker stopped before its turn.
    Set-PatchwaveUpdateNotAttempted -Record @($install.updates | Where-Object {
            $_.outcome -eq 'not_attempted' -and $null -eq $_.not_attempted_reason }) -Reason 'cancelled'

    try {
        $systemInfo = New-Object -ComObject Microsoft.Update.SystemInfo
        $install.reboot_required = [Bool]$systemInfo.RebootRequired
    }
    catch {
        Write-Verbose -Message "ISystemInformation is not available: $($_.Exception.Message)"
    }
    finally {
        Remove-PatchwaveComObject -InputObject @($systemInfo)
    }
    $install.finished = Get-PatchwaveTimestamp
    $install
}

Function Invoke-PatchwaveInstallWorker {
    <#
    .SYNOPSIS
    The install's entry point in the worker (Invoke-PatchwaveWorker calls it): runs the install
    params.json describes and returns its result; never throws.

    .PARAMETER WorkDirectory
    The install's work folder.

    .PARAMETER Parameters
    params.json as an object: install_id, batches, content, server_selection, accept_eula, predownload, worker.
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
        $installParameters = @{
            InstallId = [String]$Parameters.install_id
            Batches = @($Parameters.batches)
            Content = $Parameters.content
            ServerSelection = [String]$Parameters.server_selection
            AcceptEula = [Bool]$Parameters.accept_eula
            Predownload = [Bool]$Parameters.predownload
            WorkDirectory = $WorkDirectory
            Worker = [String]$Parameters.worker
        }
        Invoke-PatchwaveInstall @installParameters
    }
    catch {
        $installId = 'unknown'
        $source = 'wua'
        $worker = 'scheduled_task'
        if ($Parameters.install_id) {
            $installId = [String]$Parameters.install_id
        }
        if ($Parameters.content -and $Parameters.content.source -eq 'distribution_point') {
            $source = 'distribution_point'
        }
        if ($Parameters.worker) {
            $worker = [String]$Parameters.worker
        }
        $install = New-PatchwaveInstallResult -InstallId $installId -ContentSource $source -Worker $worker
        $install.result_code = 4
        $install.hresult = Get-PatchwaveErrorHResult -ErrorObject $_
        $install.error = "The install worker failed: $(Format-PatchwaveError -ErrorObject $_)"
        $install
    }
}

Function Get-PatchwaveInstallWorkerFunction {
    <#
    .SYNOPSIS
    Returns the names of the functions an install worker needs besides the runner's (for
    Start-PatchwaveWorker -Functions): the WUA ones it shares with the scan, then its own.
    #>
    [CmdletBinding()]
    [OutputType([String[]])]
    param ()

    , [String[]](@($script:WuaWorkerFunctions) + @($script:InstallWorkerFunctions))
}

Function Get-PatchwaveInstallRequestProblem {
    <#
    .SYNOPSIS
    Returns what is wrong with a start request's batches and content, or $null when nothing is.

    .DESCRIPTION
    Checked before anything starts, so the worker never meets them: every update id (and child id)
    a GUID (they go into search criteria) and each update asked for once, latest_start_host ISO 8601
    UTC or null, a distribution point given as http(s):// or a UNC path with files whose names are
    plain names, whose paths stay below it and that carry a size (a whole number of bytes, Int64:
    the $spec takes it raw, Ansible.Basic's int being Int32) and at least one digest.

    .PARAMETER Batches
    The batches option.

    .PARAMETER Content
    The content option.
    #>
    [CmdletBinding()]
    [OutputType([String])]
    param (
        [Parameter()]
        [AllowNull()]
        [Object[]]
        $Batches,

        [Parameter()]
        [AllowNull()]
        [Collections.IDictionary]
        $Content
    )

    $guid = [Guid]::Empty
    $count = 0
    $seen = @{}
    for ($index = 0; $index -lt @($Batches).Count; $index++) {
        foreach ($item in @($Batches[$index].updates)) {
            $count++
            if (-not [Guid]::TryParse([String]$item.update_id, [ref]$guid)) {
                return "batches[$index]: update_id '$($item.update_id)' is not a GUID"
            }
            if ($seen.ContainsKey($guid.ToString('D'))) {
                return "batches[$index]: update $($item.update_id) is asked for twice"
            }
            $seen[$guid.ToString('D')] = $true
            $latest = $item.latest_start_host
            $unreadable = [DateTime]::MinValue
            if ($null -ne $latest -and (ConvertFrom-PatchwaveTimestamp -Text ([String]$latest) -Default $unreadable) -eq $unreadable) {
                return "batches[$index]: latest_start_host '$latest' of $($item.update_id) is not an ISO 8601 time"
            }
            if ($item.max_run_time_minutes -lt 0) {
                return "batches[$index]: max_run_time_minutes of $($item.update_id) is negative"
            }
        }
    }
    if ($count -eq 0) {
        return 'batches has no updates: give the Install() calls to make'
    }
    if ($null -eq $Content -or $Content.source -ne 'distribution_point') {
        return $null
    }
    $base = [String]$Content.base_url
    if ($base -notmatch '^(https?://[^/]+|\\\\[^\\]+\\[^\\]+)') {
        return "content.base_url '$base' is neither an http(s):// URL nor a UNC path (\\server\share)"
    }
    $files = @($Content.files)
    if ($files.Count -eq 0) {
        return 'content.files is empty: a distribution point needs the files of the updates'
    }
    foreach ($file in $files) {
        $name = [String]$file.file_name
        foreach ($id in @($file.update_id, $file.child_id)) {
            if (-not [Guid]::TryParse([String]$id, [ref]$guid)) {
                return "content file '$name': '$id' is not a GUID"
            }
        }
        if ($name -notmatch '^[^\\/:*?"<>|]+$' -or $name -in @('.', '..')) {
            return "content file '$name': the name must be one plain file name"
        }
        $parts = ([String]$file.path).Split('/')
        if (-not $file.path -or ([String]$file.path).Contains('\') -or ([String]$file.path).Contains(':') -or
            @($parts | Where-Object { $_ -in @('', '.', '..') }).Count -gt 0) {
            return "content file '$name': path '$($file.path)' must be relative, /-separated, without '..'"
        }
        $size = [Int64]0
        if (-not [Int64]::TryParse([String]$file.size, [ref]$size) -or $size -lt 0) {
            return "content file '$name': size '$($file.size)' is not a whole number of bytes"
        }
        if (-not $file.sha1 -and -not $file.sha256) {
            return "content file '$name': it has no SHA-1 or SHA-256 to check it with"
        }
    }
    $null
}

Function Request-PatchwaveInstallCancel {
    <#
    .SYNOPSIS
    Asks a running install worker to stop before its next update (writes cancel.json in its folder).

    .PARAMETER WorkDirectory
    The work folder.
    #>
    [CmdletBinding()]
    param (
        [Parameter(Mandatory = $true)]
        [String]
        $WorkDirectory
    )

    $request = [Ordered]@{ requested = (Get-PatchwaveTimestamp) }
    Write-PatchwaveJsonFile -Path (Join-Path -Path $WorkDirectory -ChildPath 'cancel.json') -InputObject $request
}

Function Get-PatchwaveInstallPhase {
    <#
    .SYNOPSIS
    Returns the phase an install worker last recorded (progress.json), or an empty string.

    .PARAMETER WorkDirectory
    The work folder.
    #>
    [CmdletBinding()]
    [OutputType([String])]
    param (
        [Parameter(Mandatory = $true)]
        [String]
        $WorkDirectory
    )

    try {
        $text = Read-PatchwaveWorkFile -WorkDirectory $WorkDirectory -Name 'progress.json'
        if ($text) {
            return [String](ConvertFrom-Json -InputObject $text).phase
        }
    }
    catch {
        Write-Verbose -Message "progress.json cannot be read: $($_.Exception.Message)"
    }
    ''
}

Function Get-PatchwaveFreeSpace {
    <#
    .SYNOPSIS
    Returns the free bytes of the system drive (System.IO.DriveInfo.TotalFreeSpace of
    %SystemDrive%), where the work folder and WUA's cache live.
    #>
    [CmdletBinding()]
    [OutputType([Int64])]
    param ()

    $drive = New-Object -TypeName IO.DriveInfo -ArgumentList $env:SystemDrive
    [Int64]$drive.TotalFreeSpace
}

Function Get-PatchwaveHostStatus {
    <#
    .SYNOPSIS
    Returns the host's status for the controller (STATUS_SCHEMA of _install/contract.py):
    {host_time, last_boot, reboot_pending, reboot_sources, free_space_bytes}.

    .DESCRIPTION
    host_time is the host's clock (the controller measures its offset); last_boot is
    Win32_OperatingSystem.LastBootUpTime in UTC (the controller compares it across a restart);
    reboot_sources are the scan's probes (Get-PatchwaveRebootSource), WUA's ISystemInformation
    among them when this logon may ask it (not a WinRM network logon: then it is left out). Throws
    when the boot time cannot be read.
    #>
    [CmdletBinding()]
    [OutputType([System.Collections.Specialized.OrderedDictionary])]
    param ()

    $lastBoot = Get-PatchwaveLastBoot
    if (-not $lastBoot) {
        throw 'The last boot time (Win32_OperatingSystem.LastBootUpTime) cannot be read.'
    }
    $sources = Get-PatchwaveRebootSource -IncludeWua
    [Ordered]@{
        host_time = (Get-PatchwaveTimestamp)
        last_boot = $lastBoot
        reboot_pending = ($sources.Count -gt 0)
        reboot_sources = $sources
        free_space_bytes = (Get-PatchwaveFreeSpace)
    }
}

Function Start-PatchwaveRestart {
    <#
    .SYNOPSIS
    Schedules a restart of this host with shutdown.exe; returns {rc, output}.

    .DESCRIPTION
    shutdown.exe /r /t <delay> /c <comment> /d p:2:17: a restart, after the delay (a delay above 0
    implies /f), recorded as planned, major reason 2 (SHTDN_REASON_MAJOR_OPERATINGSYSTEM) minor 17
    (SHTDN_REASON_MINOR_HOTFIX, 0x11) in Microsoft's system shutdown reason codes. When a shutdown
    is already scheduled (exit code 1190, ERROR_SHUTDOWN_IS_SCHEDULED) it is left as it is and the
    answer is a success: the controller may ask twice when an answer was lost, and aborting (/a) and
    asking again would move the restart or, after the first happened, restart the host once more. The
    caller reads any other code.

    .PARAMETER DelaySeconds
    Seconds before the restart.

    .PARAMETER Comment
    Why (shown to logged-on users and in the System log; at most 512 characters).
    #>
    [CmdletBinding()]
    [OutputType([System.Collections.Specialized.OrderedDictionary])]
    param (
        [Parameter(Mandatory = $true)]
        [ValidateRange(0, 315360000)]
        [Int32]
        $DelaySeconds,

        [Parameter(Mandatory = $true)]
        [ValidateLength(1, 512)]
        [String]
        $Comment
    )

    # Windows PowerShell 5.1 turns a native command's stderr into errors, which 'Stop' would throw.
    $ErrorActionPreference = 'Continue'
    $shutdown = Join-Path -Path $env:SystemRoot -ChildPath 'System32\shutdown.exe'
    $arguments = @('/r', '/t', [String]$DelaySeconds, '/c', $Comment, '/d', 'p:2:17')
    $output = @(& $shutdown @arguments 2>&1 | ForEach-Object { [String]$_ })
    $rc = $LASTEXITCODE
    if ($rc -eq 1190) {
        # ERROR_SHUTDOWN_IS_SCHEDULED: a restart is already on its way (this module's, asked for again after
        # a lost answer, or someone else's): it is not cancelled and asked for anew, which would move it or,
        # after the first one happened, restart the host a second time.
        $rc = 0
        $output = @('a restart was already scheduled on the host; it is the one the controller waits for')
    }
    [Ordered]@{ rc = $rc; output = ($output -join ' ').Trim() }
}

Export-ModuleMember -Function @(
    'New-PatchwaveInstallResult'
    'New-PatchwaveInstallUpdateResult'
    'Write-PatchwaveInstallProgress'
    'Test-PatchwaveInstallCancel'
    'Set-PatchwaveUpdateNotAttempted'
    'ConvertTo-PatchwaveDigestHex'
    'Get-PatchwaveContentSource'
    'Get-PatchwaveContentFile'
    'Test-PatchwaveContentFile'
    'Copy-PatchwaveUpdateContent'
    'Invoke-PatchwaveUpdateDownload'
    'Invoke-PatchwaveInstallCall'
    'Find-PatchwaveInstallUpdate'
    'Invoke-PatchwaveInstall'
    'Invoke-PatchwaveInstallWorker'
    'Get-PatchwaveInstallWorkerFunction'
    'Get-PatchwaveInstallRequestProblem'
    'Request-PatchwaveInstallCancel'
    'Get-PatchwaveInstallPhase'
    'Get-PatchwaveFreeSpace'
    'Get-PatchwaveHostStatus'
    'Start-PatchwaveRestart'
)
