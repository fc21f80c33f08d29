"""twilio-operator: Twilio subaccounts, API keys and Messaging Services as Kubernetes objects."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("twilio-operator")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

GROUP = "twilio.operator.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
