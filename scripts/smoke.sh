#!/usr/bin/env bash
# End-to-end smoke test of an installed twilio-operator, with nothing but kubectl.
#
# Creates a TwilioSubaccount, an ApiKey and a MessagingService in a fresh namespace, waits for each to be
# Ready, checks their SIDs and the key's Secret (key names only: no value of it is ever printed), then
# deletes everything and waits until it is gone. Against a real installation this uses real Twilio: one
# subaccount (closed at the end by default), one API key and one Messaging Service, no phone number.
#
# Environment:
#   KUBECTL                 kubectl binary (default: kubectl on PATH); KUBECONFIG is honoured as usual
#   SMOKE_CONTEXT           kubeconfig context (default: the current context)
#   SMOKE_NAMESPACE         namespace to use; created and deleted if it does not exist, left alone if it does
#                           (default: SMOKE_NAMESPACE_PREFIX-<random>)
#   SMOKE_NAMESPACE_PREFIX  default: twilio-smoke
#   SMOKE_DELETION_POLICY   the subaccount's deletionPolicy: Close (default: nothing is left open in
#                           Twilio), Suspend or Orphan
#   SMOKE_TIMEOUT           how long to wait for each object to be Ready, and to be deleted (default: 180s)
#   SMOKE_KEEP              1: leave everything in place, even after a failure, and print how to delete it
#
# Exit status 0 and a PASS line when everything worked; non-zero and a FAIL line otherwise.
set -euo pipefail

KUBECTL=${KUBECTL:-kubectl}
SMOKE_CONTEXT=${SMOKE_CONTEXT:-}
SMOKE_NAMESPACE_PREFIX=${SMOKE_NAMESPACE_PREFIX:-twilio-smoke}
SMOKE_DELETION_POLICY=${SMOKE_DELETION_POLICY:-Close}
SMOKE_TIMEOUT=${SMOKE_TIMEOUT:-180s}
SMOKE_KEEP=${SMOKE_KEEP:-0}

GROUP=twilio.operator.dev
API_VERSION=$GROUP/v1alpha1
NAME=smoke
SECRET=smoke-twilio
LABEL_KEY=app.kubernetes.io/created-by
LABEL_VALUE=twilio-operator-smoke
SUBACCOUNT=twiliosubaccounts.$GROUP/$NAME
APIKEY=apikeys.$GROUP/$NAME
SERVICE=messagingservices.$GROUP/$NAME

namespace=""
namespace_created=0
context_flag=${SMOKE_CONTEXT:+--context $SMOKE_CONTEXT }
account="" key="" service=""   # the SIDs, set by expect_sid
created=()          # what this run created, in creation order; the only objects it ever deletes
failure="a command failed unexpectedly (see above)"
summary=""

say() { printf 'smoke: %s\n' "$*"; }

k() {
    if [[ -n $SMOKE_CONTEXT ]]; then
        "$KUBECTL" --context "$SMOKE_CONTEXT" "$@"
    else
        "$KUBECTL" "$@"
    fi
}

kn() { k --namespace "$namespace" "$@"; }

fail() {
    failure=$*
    exit 1
}

# Why an object is not Ready: its conditions, or a hint when the operator never wrote a status.
diagnose() {
    local conditions template='{range .status.conditions[*]}{.type}={.status} {.reason}: {.message}{"\n"}{end}'
    conditions=$(kn get "$1" -o jsonpath="$template" 2>&1) || true
    if [[ -n $conditions ]]; then
        printf '%s\n' "$conditions" | sed "s|^|smoke:   $1 |"
    else
        say "  $1 has no status: is the operator running, and does it watch namespace $namespace?"
    fi
}

create() {
    local ref=$1 manifest=$2
    kn create -f - -o name <<<"$manifest" >/dev/null || fail "could not create $ref"
    created+=("$ref")
    say "created $ref"
}

wait_ready() {
    say "waiting up to $SMOKE_TIMEOUT for $1 to be Ready"
    if ! kn wait --for=condition=Ready --timeout="$SMOKE_TIMEOUT" "$1" >/dev/null; then
        diagnose "$1"
        fail "$1 was not Ready within $SMOKE_TIMEOUT"
    fi
}

field() { kn get "$1" -o jsonpath="{$2}"; }

# expect_sid REF PREFIX VAR: REF's status.sid, a Twilio SID starting with PREFIX, into the variable VAR.
expect_sid() {
    local sid pattern="^$2[0-9a-f]{32}\$"
    sid=$(field "$1" .status.sid) || fail "could not read $1"
    [[ $sid =~ $pattern ]] || fail "$1: status.sid '$sid' is not a $2 SID"
    printf -v "$3" '%s' "$sid"
}

expect_account() {
    local actual
    actual=$(field "$1" .status.accountSid) || fail "could not read $1"
    [[ $actual == "$account" ]] || fail "$1: status.accountSid '$actual' is not the subaccount's SID $account"
}

b64() { printf '%s' "$1" | base64; }

# The Secret holds the three keys, non-empty, and its SIDs (no secret) are those in the status. The API
# secret never enters this script: the SIDs are compared in their base64 form, only key names are listed.
check_secret() {
    local names name sids
    # shellcheck disable=SC2016 # a Go template, not shell
    names=$(kn get secret "$SECRET" -o go-template='{{range $k, $v := .data}}{{if $v}}{{$k}} {{end}}{{end}}') ||
        fail "could not read Secret $SECRET"
    for name in TWILIO_ACCOUNT_SID TWILIO_API_KEY TWILIO_API_SECRET; do
        [[ " $names" == *" $name "* ]] || fail "Secret $SECRET has no $name"
    done
    sids=$(kn get secret "$SECRET" -o go-template='{{.data.TWILIO_ACCOUNT_SID}} {{.data.TWILIO_API_KEY}}') ||
        fail "could not read Secret $SECRET"
    [[ $sids == "$(b64 "$account") $(b64 "$key")" ]] ||
        fail "Secret $SECRET: TWILIO_ACCOUNT_SID and TWILIO_API_KEY are not the subaccount's and the key's SIDs"
    say "Secret $SECRET holds TWILIO_ACCOUNT_SID, TWILIO_API_KEY and TWILIO_API_SECRET"
}

cleanup() {
    local ok=0 i ref
    for ((i = ${#created[@]} - 1; i >= 0; i--)); do
        ref=${created[i]}
        say "deleting $ref"
        if ! kn delete "$ref" --ignore-not-found --wait=true --timeout="$SMOKE_TIMEOUT" >/dev/null; then
            say "  $ref was not deleted within $SMOKE_TIMEOUT"
            ok=1
        fi
    done
    if ((namespace_created)); then
        say "deleting namespace $namespace"
        if ! k delete namespace "$namespace" --ignore-not-found --wait=true --timeout="$SMOKE_TIMEOUT" \
            >/dev/null; then
            say "  namespace $namespace was not deleted within $SMOKE_TIMEOUT"
            ok=1
        fi
    fi
    return "$ok"
}

finish() {
    local status=$?
    trap - EXIT INT TERM
    set +e
    exec 1>&3 2>&4 # a signal can arrive inside a function whose output is redirected to /dev/null
    if [[ $SMOKE_KEEP == 1 ]]; then
        if ((namespace_created)); then
            say "kept; delete with: $KUBECTL ${context_flag}delete namespace $namespace"
        elif ((${#created[@]})); then
            say "kept; delete with: $KUBECTL ${context_flag}-n $namespace delete ${created[*]}"
        fi
    elif ! cleanup; then
        if ((status == 0)); then
            failure="cleanup did not finish; look at namespace $namespace"
            status=1
        fi
        say "some objects may remain (label $LABEL_KEY=$LABEL_VALUE); check subaccount ${account:-?} in Twilio"
    fi
    if ((status == 0)); then
        echo "PASS: twilio-operator smoke test${summary:+ ($summary)}"
    else
        echo "FAIL: $failure"
    fi
    exit "$status"
}

exec 3>&1 4>&2
trap finish EXIT
trap 'failure="interrupted"; exit 130' INT
trap 'failure="terminated"; exit 143' TERM

case $SMOKE_DELETION_POLICY in
    Close | Suspend | Orphan) ;;
    *) fail "SMOKE_DELETION_POLICY must be Close, Suspend or Orphan, not '$SMOKE_DELETION_POLICY'" ;;
esac

if [[ -n ${SMOKE_NAMESPACE:-} ]]; then
    namespace=$SMOKE_NAMESPACE
else
    namespace=$SMOKE_NAMESPACE_PREFIX-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
fi
context=$SMOKE_CONTEXT
[[ -n $context ]] || context=$(k config current-context 2>/dev/null) || context="(none)"
say "context $context, namespace $namespace, subaccount deletionPolicy $SMOKE_DELETION_POLICY"

# Not failing on kubectl's status: it is non-zero too when an unrelated aggregated API is unavailable.
resources=$(k api-resources --api-group="$GROUP" -o name 2>&1) || true
for kind in twiliosubaccounts apikeys messagingservices; do
    [[ $resources == *"$kind.$GROUP"* ]] ||
        fail "the cluster does not serve $kind.$GROUP (CRDs not installed, or kubectl failed):" \
            "$(tr '\n' ' ' <<<"$resources")"
done

if lookup=$(k get namespace "$namespace" -o name 2>&1); then
    say "using existing namespace $namespace"
elif [[ $lookup == *NotFound* ]]; then
    # apply, not `kubectl create namespace`: works with every API server, emulators included.
    k apply -f - >/dev/null <<EOF || fail "could not create namespace $namespace"
apiVersion: v1
kind: Namespace
metadata:
  name: $namespace
  labels: {$LABEL_KEY: $LABEL_VALUE}
EOF
    namespace_created=1
    say "created namespace $namespace"
elif [[ -n ${SMOKE_NAMESPACE:-} ]]; then
    say "cannot read namespace $namespace ($lookup); using it as it is"
else
    fail "cannot read namespace $namespace: $lookup"
fi

existing=$(kn get "$SUBACCOUNT" "$APIKEY" "$SERVICE" "secret/$SECRET" --ignore-not-found -o name) ||
    fail "cannot list namespace $namespace"
[[ -z $existing ]] ||
    fail "namespace $namespace already has $(tr '\n' ' ' <<<"$existing")- choose another SMOKE_NAMESPACE"

metadata="metadata: {name: $NAME, labels: {$LABEL_KEY: $LABEL_VALUE}}"
create "$SUBACCOUNT" "apiVersion: $API_VERSION
kind: TwilioSubaccount
$metadata
spec:
  deletionPolicy: $SMOKE_DELETION_POLICY"
create "$APIKEY" "apiVersion: $API_VERSION
kind: ApiKey
$metadata
spec:
  subaccountRef: {name: $NAME}
  secretName: $SECRET"
create "$SERVICE" "apiVersion: $API_VERSION
kind: MessagingService
$metadata
spec:
  subaccountRef: {name: $NAME}
  usecase: notifications"

wait_ready "$SUBACCOUNT"
expect_sid "$SUBACCOUNT" AC account
say "$SUBACCOUNT is Ready: $account"

wait_ready "$APIKEY"
expect_sid "$APIKEY" SK key
expect_account "$APIKEY"
say "$APIKEY is Ready: $key"
check_secret

wait_ready "$SERVICE"
expect_sid "$SERVICE" MG service
expect_account "$SERVICE"
say "$SERVICE is Ready: $service"

summary="subaccount $account, key $key, service $service"
