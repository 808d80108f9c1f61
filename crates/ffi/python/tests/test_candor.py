"""The Python bindings against a real `candor serve`: consent, every metric
type, day end, upload (through a host uploader written in Python and
through the built-in one), and the counts in a release; private mode
records nothing; revoking purges the queue; errors are exceptions with
stable codes; recording never raises."""

import datetime
import json
import threading
import urllib.error
import urllib.request

import pytest

import candor
from conftest import SCHEMA_TOML, Server, run

# The eu region releases a group only when its noisy contributor count
# (Laplace, scale 16) reaches k_min = 10: at 150 devices a group is
# suppressed about once in 12,000 runs, at 12 nearly every other run.
DEVICES = 150
TODAY = datetime.datetime.now(datetime.timezone.utc).date().isoformat()


class UrllibUploader(candor.HostUploader):
    """A host uploader on Python's own HTTP stack (what an app with its own
    proxy settings or certificate pinning writes)."""

    def __init__(self, base: str):
        self.base = base
        self.calls = 0

    def upload(self, region, body):
        self.calls += 1
        request = urllib.request.Request(
            f"{self.base}/v1/regions/{region}/reports",
            data=bytes(body),
            method="POST",
            headers={"content-type": "application/vnd.candor.report"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as r:
                answer = json.load(r)
        except urllib.error.HTTPError as e:
            if e.code in (408, 429) or e.code >= 500:
                retry = e.headers.get("retry-after")
                return candor.UploadOutcome.RETRY_LATER(int(retry) if retry else None)
            return candor.UploadOutcome.REJECTED(f"http_{e.code}")
        except OSError:
            return candor.UploadOutcome.RETRY_LATER(None)
        outcomes = {
            "accepted": candor.ReportOutcome.ACCEPTED(),
            "duplicate": candor.ReportOutcome.DUPLICATE(),
            "queued": candor.ReportOutcome.QUEUED(),
        }
        return candor.UploadOutcome.RESULTS(
            [outcomes.get(i["status"]) or candor.ReportOutcome.REJECTED(i.get("code") or i["status"])
             for i in answer["results"]]
        )

    def fetch_key_list(self, region):
        try:
            with urllib.request.urlopen(f"{self.base}/v1/regions/{region}/keys", timeout=30) as r:
                return candor.KeyListOutcome.FETCHED(r.read())
        except OSError:
            return candor.KeyListOutcome.RETRY_LATER()


class Broken(candor.HostUploader):
    """A host whose network code raises: the SDK must treat it as offline."""

    def upload(self, region, body):
        raise RuntimeError("no network")

    def fetch_key_list(self, region):
        raise candor.HostError.Failed("no network")


def options(path, signing_key, **extra) -> candor.ClientOptions:
    return candor.ClientOptions(
        data_dir=str(path),
        schema_toml=SCHEMA_TOML,
        signing_key_json=signing_key,
        dimensions={"platform": "android"},
        persist_interval_seconds=0,
        **extra,
    )


def record_everything(client: candor.Client) -> None:
    """One device's day: every metric type once."""
    client.counter("browser.tabs_opened").add(3)
    client.labeled_counter("app.opened").add("camera", 2)
    client.boolean("settings.dark_mode").set(True)
    client.category("settings.text_size").set("large")
    client.distribution("browser.session_minutes").accumulate(10)
    client.domain_set("browser.slow_domains").record_url("https://www.news.example.co.uk/a?b=c")
    client.activity("app.active").active()


def query(server: Server, token: str, metric: str) -> dict:
    out = run("query", "--url", server.url, "--token", token, "--region", "eu",
              "--metric", metric, "--from", TODAY, "--to", TODAY, "--json")
    return json.loads(out)


def group(answer: dict, cell=None) -> dict:
    """The released group of an ungrouped answer (of `cell`, for labels)."""
    assert answer["suppressed"] == 0, answer
    groups = [g for g in answer["groups"] if cell is None or g.get("cell") == cell]
    assert len(groups) == 1, answer
    return groups[0]


def within(g: dict, truth: int) -> None:
    """The released value is the truth up to the published noise: within
    three half-widths of the published 95% interval. (The truth falls
    outside the interval itself in one run in 20 by design, which would
    make a flaky test; a Laplace draw passes three half-widths about once
    in 8,000.)"""
    low, high = g["ci95"]
    value = g["value"]
    half = (high - low) / 2
    assert abs(value - truth) <= 3 * half, f"{value} vs truth {truth}, interval {low}..{high}"


def test_the_scenario_ends_in_a_release_matching_what_was_recorded(tmp_path, server):
    signing_key = server.signing_key()
    key_list = server.get("/v1/regions/eu/keys").decode()
    clients = []
    for i in range(DEVICES):
        path = tmp_path / f"device-{i}"
        if i % 2:
            # Half upload through the app's own HTTP stack, with a bundled key list.
            host = UrllibUploader(server.url)
            client = candor.Client.open_with_uploader(options(path, signing_key, key_list_json=key_list), host)
        else:
            # Half through the built-in uploader, which fetches the key list
            # on its first pass (nothing is queued yet: a day is sealed only
            # to a verified list, so this is what an app does at start).
            client = candor.Client.open(options(path, signing_key, collector_url=server.url))
            assert client.upload().requests == 0
        clients.append(client)

    for client in clients:
        # Default deny: recorded before consent, never counted.
        client.counter("browser.tabs_opened").add(100)
        receipt = client.grant("usage")
        assert receipt.granted and receipt.purpose == "usage" and receipt.consent_version == 1
        client.grant("browsing")
        assert client.consent_status()["usage"].collecting
        record_everything(client)
        client.end_day()

    for client in clients:
        summary = client.upload()
        assert (summary.accepted, summary.remaining, summary.rejected) == (2, 0, 0), summary
        sent = [json.loads(r) for r in client.sent_reports(7)]
        assert {r["purpose"] for r in sent} == {"usage", "browsing"}, sent
        usage = next(r for r in sent if r["purpose"] == "usage")
        assert usage["day"] == TODAY
        assert usage["metrics"]["browser.tabs_opened"] == {"type": "counter", "value": 3}
        assert client.pending_reports() == []

    # The day closes (eu accepts reports for 3 more days): the collector
    # is restarted on a clock 5 days ahead, and an analyst asks.
    server.stop()
    token = run("token", "create", "--name", "py", "--data-dir", str(server.data),
                "--role", "analyst", "--regions", "eu", "--purposes", "usage").strip()
    server.start(days=5)
    within(group(query(server, token, "browser.tabs_opened")), 3 * DEVICES)
    within(group(query(server, token, "app.opened"), "camera"), 2 * DEVICES)


def test_private_mode_records_nothing(tmp_path, server):
    client = candor.Client.open(options(tmp_path, server.signing_key()))
    client.grant("usage")
    client.grant("browsing")
    client.set_private_mode(True)
    record_everything(client)
    client.set_private_mode(False)
    # A private tab's handle, with the app out of private mode.
    client.counter("browser.tabs_opened").private(True).add(5)
    client.end_day()
    assert client.pending_reports() == []


def test_revoke_purges_the_queue(tmp_path, server):
    client = candor.Client.open(options(tmp_path, server.signing_key(),
                                        key_list_json=server.get("/v1/regions/eu/keys").decode()))
    client.grant("usage")
    client.grant("browsing")
    record_everything(client)
    client.end_day()
    purposes = sorted(json.loads(r)["purpose"] for r in client.pending_reports())
    assert purposes == ["browsing", "usage"]
    receipt = client.revoke("usage")
    assert not receipt.granted
    assert [json.loads(r)["purpose"] for r in client.pending_reports()] == ["browsing"]
    client.revoke("browsing")
    assert client.pending_reports() == []
    assert [r.granted for r in client.receipts()] == [True, True, False, False]


def test_errors_are_exceptions_with_stable_codes_and_recording_never_raises(tmp_path, server):
    with pytest.raises(candor.CandorError.Key) as e:
        candor.Client.open(options(tmp_path, "not a key"))
    assert e.value.code == "invalid_key"
    with pytest.raises(candor.CandorError.Schema) as e:
        candor.Client.open(candor.ClientOptions(data_dir=str(tmp_path), schema_toml="[oops",
                                                signing_key_json=server.signing_key()))
    client = candor.Client.open(options(tmp_path, server.signing_key()))
    with pytest.raises(candor.CandorError.Consent) as e:
        client.grant("ads")
    assert e.value.code == "unknown_purpose"
    client.grant("usage")
    # Bad input is counted, never raised.
    client.counter("no.such.metric").add(1)
    client.counter("browser.tabs_opened").add(-1)
    client.labeled_counter("app.opened").add("no-such-label", 1)
    client.domain_set("browser.slow_domains").record_url("http://127.0.0.1/")
    counts = client.error_counts()
    assert counts["browser.tabs_opened"]["negative_value"] == 1
    assert counts["app.opened"]["unknown_label"] == 1
    # Out of range for the FFI's 64-bit integer: Python's own error, before Rust.
    with pytest.raises((OverflowError, ValueError, TypeError)):
        client.counter("browser.tabs_opened").add(2**70)


def test_a_host_that_raises_is_offline_not_a_crash(tmp_path, server):
    # Its key-list fetch raises HostError: no list, nothing sealed, no crash.
    fetchless = candor.Client.open_with_uploader(options(tmp_path / "a", server.signing_key()), Broken())
    assert fetchless.upload().requests == 0
    # Its upload raises RuntimeError: the report stays queued, the SDK backs off.
    key_list = server.get("/v1/regions/eu/keys").decode()
    client = candor.Client.open_with_uploader(
        options(tmp_path / "b", server.signing_key(), key_list_json=key_list), Broken())
    client.grant("usage")
    client.counter("browser.tabs_opened").add(1)
    client.end_day()
    summary = client.upload()
    assert summary.accepted == 0 and summary.remaining == 1 and summary.retry_at is not None, summary
    assert len(client.pending_reports()) == 1


def test_handles_are_shared_across_threads(tmp_path, server):
    client = candor.Client.open(options(tmp_path, server.signing_key(),
                                        key_list_json=server.get("/v1/regions/eu/keys").decode()))
    client.grant("usage")
    tabs = client.counter("browser.tabs_opened")
    threads = [threading.Thread(target=lambda: [tabs.add(1) for _ in range(50)]) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    client.end_day()
    (report,) = [json.loads(r) for r in client.pending_reports()]
    assert report["metrics"]["browser.tabs_opened"]["value"] == 400
