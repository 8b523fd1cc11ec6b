"""The ``sip`` telephony backend: RFC 3725 third-party call control with sippy.

Importing this package does not import sippy; that happens on the SIP thread (see ``stack``).
"""

from opendialer.telephony.sip.backend import SipBackend, create_backend
from opendialer.telephony.sip.options import SipOptions, SipOptionsError, load_options

__all__ = ["SipBackend", "SipOptions", "SipOptionsError", "create_backend", "load_options"]
