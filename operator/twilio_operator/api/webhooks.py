"""Webhook URLs as every kind declares them: a literal URL, or one resolved from an Ingress, with a method."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field
from pydantic.config import JsonDict

from .common import OBJECT_NAME_PATTERN, Model

HttpMethod = Literal["POST", "GET"]
URL_PATTERN = r"^https?://[^\s_/]+(/\S*)?$"


class IngressRef(Model):
    """A webhook URL resolved from an Ingress in the same namespace."""

    name: str = Field(min_length=1, max_length=253, pattern=OBJECT_NAME_PATTERN, description="Ingress name.")
    path: str = Field(
        min_length=1, pattern=r"^/\S*$", description="Path, routed by one of the Ingress's rules, e.g. /sms."
    )
    host: str | None = Field(
        default=None,
        description="Which of the Ingress's hosts to use. Required when its rules name several hosts.",
    )


# Exactly one of url or ingressRef: an OpenAPI oneOf the API server enforces.
ONE_OF_URL_OR_INGRESS: JsonDict = {"oneOf": [{"required": ["url"]}, {"required": ["ingressRef"]}]}


class Webhook(Model):
    """A webhook: a literal URL or one resolved from an Ingress, and the HTTP method Twilio uses."""

    model_config = ConfigDict(**Model.model_config, json_schema_extra=ONE_OF_URL_OR_INGRESS)

    url: str | None = Field(default=None, pattern=URL_PATTERN, max_length=2048, description="Literal URL.")
    ingress_ref: IngressRef | None = Field(default=None, description="Resolve the URL from an Ingress.")
    method: HttpMethod | None = Field(default=None, description="POST (Twilio's default) or GET.")
