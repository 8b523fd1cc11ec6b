"""Media faults: rtpengine lost mid-campaign, and an SDP it refuses, each end in one cause."""

import asyncio
import signal
from pathlib import Path
from typing import Any

from opendialer.recordings.service import CallRecorder
from opendialer.telephony import AgentEndpoint, CallEventKind
from tests.telephony.sip.helpers import Recorder, make_backend, request
from tests.telephony.sip.rtpengine import Rtpengine
from tests.telephony.sip.sipp import Farm, Network
from tests.telephony.sip.test_media import _route, _streaming, recorded_call

NETWORK_OUT_OF_ORDER, INTERWORKING = 38, 127


def test_rtpengine_killed_mid_campaign_ends_every_call_in_one_state(
    farm: Farm, sip_options: dict[str, Any], sip_network: Network, tmp_path: Path
) -> None:
    relay = Rtpengine(sip_network, tmp_path / "spool", ng_port=2224, media_ports=(41000, 41999))
    relay.start()
    bridged_customer = _streaming(farm, tmp_path, 500, 2000, "customer")
    agent = _streaming(farm, tmp_path, 1300, 20_000, "agent")
    late_customers = farm.peer("answer", 2, talk_ms=5000, role="customer")
    options = {
        **_route(sip_options, "+4930100", bridged_customer.uri_host),
        "routes": [
            {"prefix": "+4930100", "trunk": bridged_customer.uri_host},
            {"prefix": "+4930200", "trunk": late_customers.uri_host},
        ],
        "media": "rtpengine",
        "rtpengine": [relay.address],
    }

    async def scenario() -> Recorder:
        backend = make_backend(options)
        await backend.start()
        recorder = Recorder(backend)
        first = await backend.originate(request("+49301001"))
        recorder.bridge_to[first] = AgentEndpoint("7", f"sip:agent7@{agent.uri_host}")
        await recorder.wait_for(first, CallEventKind.BRIDGED)
        assert relay.process is not None
        relay.process.send_signal(signal.SIGKILL)
        relay.process.wait()
        second = await backend.originate(request("+49302001"))
        lost = await recorder.wait_for(second)
        ended = await recorder.wait_for(first)
        third = await backend.originate(request("+49302001"))  # the relay is known down now
        skipped = await recorder.wait_for(third)
        await backend.stop()
        await recorder.task
        assert lost.kind is CallEventKind.FAILED
        assert lost.q850_cause == NETWORK_OUT_OF_ORDER and "media relay" in lost.detail
        assert ended.kind is CallEventKind.HANGUP_CUSTOMER
        assert skipped.kind is CallEventKind.FAILED and "media relay down" in skipped.detail
        return recorder

    try:
        recorder = asyncio.run(scenario())
    finally:
        relay.stop()
    for call, events in recorder.events.items():
        assert sum(event.final for event in events) == 1, call
    assert bridged_customer.wait() == 0 and late_customers.wait() == 0


def test_an_sdp_rtpengine_refuses_ends_that_call_only(
    farm: Farm, media_options: dict[str, Any], tmp_path: Path
) -> None:
    extra = {"MEDIA_PORT": "audio-port", "STREAM": ""}
    broken = farm.peer("answer_audio", 1, talk_ms=5000, role="customer", extra=extra)
    healthy = _streaming(farm, tmp_path, 500, 1000, "customer")
    agent = _streaming(farm, tmp_path, 1300, 20_000, "agent")
    options = {
        **media_options,
        "routes": [
            {"prefix": "+4930100", "trunk": broken.uri_host},
            {"prefix": "+4930200", "trunk": healthy.uri_host},
        ],
    }

    async def scenario() -> None:
        backend = make_backend(options)
        await backend.start()
        recorder = Recorder(backend)
        bad = await backend.originate(request("+49301001"))
        good = await backend.originate(request("+49302001"))
        recorder.bridge_to[good] = AgentEndpoint("7", f"sip:agent7@{agent.uri_host}")
        refused = await recorder.wait_for(bad)
        talked = await recorder.wait_for(good)
        await backend.stop()
        await recorder.task
        assert refused.kind is CallEventKind.FAILED and refused.q850_cause == INTERWORKING
        assert "rtpengine" in refused.detail
        assert talked.kind is CallEventKind.HANGUP_CUSTOMER
        assert CallEventKind.BRIDGED in recorder.kinds(good)

    asyncio.run(scenario())
    assert broken.wait() == 0 and healthy.wait() == 0


def test_a_call_whose_recording_fails_completes_and_says_why(
    farm: Farm, media_options: dict[str, Any], tmp_path: Path
) -> None:
    customer = _streaming(farm, tmp_path, 500, 1000, "customer")
    agent = _streaming(farm, tmp_path, 1300, 20_000, "agent")
    elsewhere = tmp_path / "not-rtpengines-spool"  # rtpengine writes its pcaps somewhere else
    options = {**_route(media_options, "+4930100", customer.uri_host)}
    options["recording_dir"] = str(elsewhere)
    store = CallRecorder(tmp_path / "recordings")
    _, call, final = recorded_call(options, store, f"sip:agent7@{agent.uri_host}")
    assert final.kind is CallEventKind.HANGUP_CUSTOMER
    assert final.detail.startswith("customer hung up; recording failed: ")
    assert "no pcap" in final.detail
    assert store.take(call) is None
    assert customer.wait() == 0
