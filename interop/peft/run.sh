#!/usr/bin/env bash
# Entry points of the PEFT interop (need Python; not part of npm test):
#   bash interop/peft/run.sh fixtures    re-writes test/fixtures/peft/ with the real PEFT (npm run fixtures:peft)
#   bash interop/peft/run.sh roundtrip   PEFT → tfjs → PEFT round trips (npm run interop:peft)
# The pinned venv is created on first use by setup.sh (outside the repository).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
PY="$(bash interop/peft/setup.sh | tail -1)"
case "${1:-}" in
  fixtures)
    "$PY" interop/peft/make_fixtures.py 2> >(grep -v -E "UserWarning|warnings.warn" >&2)
    ;;
  roundtrip)
    WORK="$(mktemp -d "${TMPDIR:-/tmp}/tfjs-oft-peft-roundtrip.XXXXXX")"
    echo "work directory: $WORK"
    "$PY" interop/peft/roundtrip.py prepare "$WORK" 2> >(grep -v -E "UserWarning|warnings.warn|detach|enc\(" >&2)
    npx tsx interop/peft/roundtrip.ts "$WORK"
    "$PY" interop/peft/roundtrip.py check "$WORK" 2> >(grep -v -E "UserWarning|warnings.warn" >&2)
    echo "PEFT round trips passed"
    ;;
  *)
    echo "usage: bash interop/peft/run.sh fixtures|roundtrip" >&2
    exit 2
    ;;
esac
