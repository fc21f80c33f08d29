"""A Kubernetes API emulator that kopf, kubectl and the kubernetes client can tell apart from kube-apiserver
only where `reference/k8s-api-behaviours.md` says so."""

from .emulator import KubeEmulator
from .kubeconfig import kubeconfig_yaml

__all__ = ["KubeEmulator", "kubeconfig_yaml"]
