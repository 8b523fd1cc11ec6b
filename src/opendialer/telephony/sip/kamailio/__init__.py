"""The Kamailio configuration opendialer ships for browser phones (registrar + WebSocket
proxy calling rtpengine); see docs/telephony.md."""

from pathlib import Path

KAMAILIO_CFG = Path(__file__).with_name("kamailio.cfg")
LOCAL_CFG_EXAMPLE = Path(__file__).with_name("kamailio-local.cfg.example")
TLS_CFG_EXAMPLE = Path(__file__).with_name("opendialer-tls.cfg.example")
TURNSERVER_CONF_EXAMPLE = Path(__file__).with_name("turnserver.conf.example")
