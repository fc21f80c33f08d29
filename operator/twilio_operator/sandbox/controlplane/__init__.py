"""The real Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager) for
`twilio-operator sandbox --kube apiserver`, built by scripts/controlplane.sh. Import the submodules:
`cluster` needs `cryptography`, `errors` and `binaries` need nothing."""
