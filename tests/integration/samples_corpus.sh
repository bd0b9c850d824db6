#!/usr/bin/env bash
# Every folder of ../shared/samples that holds files, its parent and its grandparent, given to
# `create` as a user would: each either converts with a catalog that accounts for every pixel of
# every image file below it (tests/oracle/check_coverage.py, reading the files with tifffile /
# Pillow / the oracle container readers), or is refused as an input error whose message names the
# folder. Create only: the pixels themselves are compared by samples_conformance and md_samples.
source "$(dirname "$0")/lib/common.bash"
[ -d "$SAMPLES" ] || skip "no ../shared/samples folder"
need_oracle
ROOT=$(realpath "$SAMPLES")
folders=$(
    find "$ROOT" -type f -not -path '*/.*' -printf '%h\n' | sort -u | while read -r d; do
        for f in "$d" "$(dirname "$d")" "$(dirname "$(dirname "$d")")"; do
            case "$f/" in "$ROOT"/*) echo "$f" ;; esac
        done
    done | sort -u)
converted=0 refused=0 i=0
while read -r F; do
    i=$((i + 1))
    set +e
    "$IMX" "$WORK/e$i" create --source "$F" >"$WORK/out" 2>&1
    rc=$?
    set -e
    if [ $rc = 0 ]; then
        $PY "$ORACLE/check_coverage.py" "$WORK/e$i" "$F" >"$WORK/cov" 2>&1 || { cat "$WORK/out" "$WORK/cov" >&2; fail "$F: converted, but not every pixel is accounted for"; }
        echo "converted ${F#"$ROOT"/}: $(cat "$WORK/cov")"
        converted=$((converted + 1))
    else
        [ $rc = 3 ] || { cat "$WORK/out" >&2; fail "$F: create exited $rc, expected 0 or 3 (input error)"; }
        grep -qF -- "$F" "$WORK/out" || { cat "$WORK/out" >&2; fail "$F: the refusal does not name the folder"; }
        echo "refused   ${F#"$ROOT"/}: $(grep -m1 -E 'ERROR' "$WORK/out" | cut -c1-160)"
        refused=$((refused + 1))
    fi
    rm -rf "$WORK/e$i"
done <<<"$folders"
[ "$converted" -gt 0 ] || fail "no sample folder converted"
echo "PASS samples_corpus: $i folders, $converted converted with every pixel accounted for, $refused refused"
