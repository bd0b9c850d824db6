#!/usr/bin/env bash
# imextract's benchmark (issue targets in docs/performance.md). Measures in ONE run, on the same
# synthetic CellVoyager plate (16-bit 2560x2160 TIFFs with cell-like content) and the same codec:
#   the read floor (cat of the sources), the codec ceiling (the codec alone on the decoded planes),
#   the Python route (tifffile + zarr-python + numcodecs, 2 processes), imextract (create + init +
#   submit + collect, and the run phase alone), with MB/s of source pixels, ratios, peak RSS and
#   the compressed size; then time per plane for a 4x larger plate, `create` on 100,000 metadata
#   records and `init` on 1,000,000 planes; the Python route and the run phase again from a cold
#   page cache (root only); what writing into memory the VM handed back to its host costs.
# usage: bench/run_bench.sh [WORKDIR]   (QUICK=1: small planes, for a smoke run; ROUNDS=N interleaved
# rounds of the compared routes and of the scaling runs, default 5)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
W=${1:-/tmp/imextract-bench}
"$ROOT/scripts/install-deps.sh" >&2
cmake -S "$ROOT" -B "$ROOT/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIMX_BUILD_BENCH=ON > /dev/null
ninja -C "$ROOT/build" imextract codec_choice > /dev/null
IMX="$ROOT/build/imextract"
CODECBENCH="$ROOT/build/bench/codec_choice"
PY=/usr/bin/python3
rm -rf "$W"; mkdir -p "$W"
if [ "${QUICK:-0}" = 1 ]; then WIDTH=640 HEIGHT=540 RECORDS=2000 MILLION=20000; else WIDTH=2560 HEIGHT=2160 RECORDS=100000 MILLION=1000000; fi
CORES=$(nproc)
OUT="$W/results.md"
note() { echo "$*" | tee -a "$OUT"; }
# timed LABEL CMD...: wall seconds, peak RSS (MB), user and kernel CPU seconds of CMD into $T,
# $RSS, $UT and $ST; $REPORTED: MB of free memory the guest handed back to the hypervisor meanwhile
REPORTED_KIB=/sys/module/page_reporting/parameters/reported_kib
reported_kib() { if [ -r "$REPORTED_KIB" ]; then cat "$REPORTED_KIB"; else echo 0; fi; }
timed() { local label=$1; shift; local k0; k0=$(reported_kib)
    /usr/bin/time -f "%e %M %U %S" -o "$W/time.txt" "$@" > "$W/$label.out" 2> "$W/$label.err" || { cat "$W/$label.err" >&2; exit 1; }
    REPORTED=$(( ($(reported_kib) - k0) / 1024 ))
    read -r T RSS_KB UT ST < "$W/time.txt"; RSS=$((RSS_KB / 1024)); }
# best LABEL CMD...: the fastest of 3 runs (a shared VM is noisy); $T, $RSS of that run
best() { local label=$1; shift; local bt="" brss=0
    for _ in 1 2 3; do timed "$label" "$@"
        if [ -z "$bt" ] || awk -v a="$T" -v b="$bt" 'BEGIN { exit !(a < b) }'; then bt=$T; brss=$RSS; cp "$W/$label.out" "$W/$label.best"; fi
    done
    T=$bt; RSS=$brss; cp "$W/$label.best" "$W/$label.out"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
mbs() { awk -v mb="$1" -v s="$2" 'BEGIN { printf "%.0f", mb / s }'; }
# stat_in FILE KEY min|median|rss: over the lines "KEY value rss_mb" of FILE
stat_in() {
    awk -v k="$2" '$1 == k { print $2, $3 }' "$1" | sort -n | awk -v what="$3" '
        { v[NR] = $1; r = ($2 > r ? $2 : r) }
        END { if (what == "min") print v[1]; else if (what == "rss") print r; else print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}
# The VM's speed changes from one second to the next (other tenants): routes that are compared are
# run in interleaved rounds, and the minimum (the least disturbed run) and the median are reported.
ROUNDS=${ROUNDS:-5}

# plate NAME ROWS COLS: a synthetic plate of ROWS x COLS wells, 2 sites, 2 channels, 4 z-planes.
plate() { "$IMX" demo --no-run --rows "$2" --cols "$3" --sites 2 --channels 2 --zplanes 4 \
    --width $WIDTH --height $HEIGHT "$W/$1" 2> /dev/null; }

note "# imextract benchmark, $(date -u +%Y-%m-%dT%H:%MZ)"
note ""
note "machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(. /etc/os-release; echo "$PRETTY_NAME"); planes ${WIDTH}x${HEIGHT} uint16"
note ""
plate p1 2 3
SRC="$W/p1/microscope"
NPLANES=$(ls "$SRC"/*.tif | wc -l)
PIXMB=$(awk -v n=$NPLANES -v w=$WIDTH -v h=$HEIGHT 'BEGIN { printf "%.1f", n * w * h * 2 / 1e6 }')
note "plate: $NPLANES planes, $PIXMB MB of pixels ($(du -sm "$SRC" | cut -f1) MB of files)"
note ""
cat "$SRC"/*.tif > /dev/null  # warm the page cache: every route reads from memory
best cat sh -c "cat '$SRC'/*.tif > /dev/null"; CAT_T=$T

# write_floor EXP: writes files of the sizes of EXP's chunks, as new files, CORES writers at once:
# what storing the output costs on this filesystem without reading, decoding or compressing.
write_floor() {
    find "$1" -path '*.zarr/*' -type f -size +1k -printf '%s\n' > "$W/sizes.txt"
    rm -rf "$W/wf"; mkdir -p "$W/wf"
    best writefloor sh -c "rm -rf '$W/wf'; '$PY' '$ROOT/bench/write_floor.py' '$W/sizes.txt' '$W/wf' $CORES"
    rm -rf "$W/wf"
}
run_codec() { local codec=$1
    best ceiling "$CODECBENCH" --only "$codec" --threads "$CORES" "$SRC"
    read -r _ CEIL_T _ CEIL_BYTES < "$W/ceiling.out"
    rm -rf "$W/exp"
    # One resolution level: the Python route writes no pyramid either. The pyramid's own cost is
    # the separate row below.
    timed create "$IMX" "$W/exp" create --source "$SRC" --compression "$codec" --levels 1; CREATE_T=$T
    timed init "$IMX" "$W/exp" init; INIT_T=$T
    # Python (its own timing of the worker pool, into a fresh store) and imextract's run phase
    # (the whole `run` process, into a freshly initialised plate), alternating.
    local rounds="$W/rounds_$codec.txt"; : > "$rounds"; : > "$rounds.cpu"
    for _ in $(seq 1 "$ROUNDS"); do
        timed python "$PY" "$ROOT/bench/python_route.py" "$SRC" "$W/py.zarr" "$codec" "$CORES"
        read -r _ t _ < "$W/python.out"; echo "python $t $RSS" >> "$rounds"
        echo "python $UT $ST" >> "$rounds.cpu"
        "$IMX" "$W/exp" init > /dev/null 2>&1
        timed run "$IMX" "$W/exp" run -j 1; echo "imextract $T $RSS" >> "$rounds"
        echo "imextract $UT $ST" >> "$rounds.cpu"
    done
    PY_T=$(stat_in "$rounds" python min); PY_MED=$(stat_in "$rounds" python median); PY_RSS=$(stat_in "$rounds" python rss)
    RUN_T=$(stat_in "$rounds" imextract min); RUN_MED=$(stat_in "$rounds" imextract median); RUN_RSS=$(stat_in "$rounds" imextract rss)
    PY_SIZE=$(du -sm "$W/py.zarr" | cut -f1)
    timed collect "$IMX" "$W/exp" collect; COLLECT_T=$T
    FULL_T=$(awk -v a=$CREATE_T -v b=$INIT_T -v c=$RUN_T -v d=$COLLECT_T 'BEGIN { printf "%.2f", a + b + c + d }')
    # and the whole workflow through submit (local engine: its own worker processes)
    "$IMX" "$W/exp" init > /dev/null 2>&1
    timed submit "$IMX" "$W/exp" submit; SUBMIT_T=$T; SUBMIT_RSS=$RSS
    IMX_SIZE=$(du -sm "$W/exp"/*.zarr | cut -f1)
    write_floor "$W/exp"; WRITE_T=$T
    rm -rf "$W/exp_pyr"
    "$IMX" "$W/exp_pyr" create --source "$SRC" --compression "$codec" > /dev/null 2>&1
    "$IMX" "$W/exp_pyr" init > /dev/null 2>&1
    images=("$W/exp_pyr"/*.zarr/*/*/0)
    LEVELS=$(find "${images[0]}" -mindepth 1 -maxdepth 1 -name '[0-9]*' -type d | wc -l)
    best pyramid "$IMX" "$W/exp_pyr" run -j 1; PYR_T=$T; PYR_RSS=$RSS
    PYR_SIZE=$(du -sm "$W/exp_pyr"/*.zarr | cut -f1)
    rm -rf "$W/exp_pyr"
    note "## codec $codec"
    note ""
    note "| route | seconds | MB/s of pixels | peak RSS MB | stored MB |"
    note "| --- | ---: | ---: | ---: | ---: |"
    note "| read floor: cat of the source files | $CAT_T | $(mbs $PIXMB $CAT_T) | | |"
    note "| write floor: files of the stored chunks' sizes, written new by $CORES processes | $WRITE_T | $(mbs $PIXMB $WRITE_T) | | |"
    note "| codec ceiling: $codec alone, $CORES threads, planes in memory | $CEIL_T | $(mbs $PIXMB $CEIL_T) | | $((CEIL_BYTES / 1000000)) |"
    note "| Python: tifffile + zarr-python/numcodecs, $CORES processes (min of $ROUNDS; median $PY_MED) | $PY_T | $(mbs $PIXMB $PY_T) | $PY_RSS | $PY_SIZE |"
    note "| imextract run phase (run -j 1: $((CORES + 1)) workers on $CORES cores; min of $ROUNDS; median $RUN_MED) | $RUN_T | $(mbs $PIXMB $RUN_T) | $RUN_RSS | $IMX_SIZE |"
    note "| imextract run phase with the default pyramid ($LEVELS levels in the first field) | $PYR_T | $(mbs $PIXMB $PYR_T) | $PYR_RSS | $PYR_SIZE |"
    note "| imextract create + init + run + collect | $FULL_T | $(mbs $PIXMB $FULL_T) | | |"
    note "| imextract create + init + submit (incl. collect) | $(awk -v a=$CREATE_T -v b=$INIT_T -v c=$SUBMIT_T 'BEGIN{print a+b+c}') | | $SUBMIT_RSS | |"
    note ""
    note "- run phase / Python: **$(ratio $PY_T $RUN_T)x** the throughput by the minimum, $(ratio $PY_MED $RUN_MED)x by the median (target >= 2)"
    note "- rounds (route, seconds, RSS MB): $(tr '\n' ';' < "$rounds" | sed 's/;$//')"
    note "- CPU seconds of the same rounds (route, user, kernel; Python's whole processes, interpreter start and imports included): $(tr '\n' ';' < "$rounds.cpu" | sed 's/;$//')"
    note "- run phase / codec ceiling: takes **$(ratio $RUN_T $CEIL_T)x** the codec's time (target <= 1.5)"
    note "- run phase / write floor: takes **$(ratio $RUN_T $WRITE_T)x** the time of only writing its output files"
    note "- collect (read back, verify every plane): $COLLECT_T s; create $CREATE_T s; init $INIT_T s"
    note ""
    RUN_T_1X=$RUN_T
}
# Cold cache: right after an acquisition the microscope's files are on disk, not in memory. The
# Python route, imextract's run phase and cat, each after dropping the page cache (needs root).
cold_rounds() {
    if ! [ -w /proc/sys/vm/drop_caches ]; then
        note "(cold-cache rounds skipped: /proc/sys/vm/drop_caches is not writable)"; note ""; return
    fi
    local rounds="$W/cold.txt"; : > "$rounds"
    drop() { sync; echo 3 > /proc/sys/vm/drop_caches; }
    for _ in $(seq 1 "$ROUNDS"); do
        drop; timed pycold "$PY" "$ROOT/bench/python_route.py" "$SRC" "$W/py.zarr" blosc-lz4 "$CORES"
        read -r _ t _ < "$W/pycold.out"; echo "python $t $RSS" >> "$rounds"
        "$IMX" "$W/exp" init > /dev/null 2>&1
        drop; timed runcold "$IMX" "$W/exp" run -j 1; echo "imextract $T $RSS" >> "$rounds"
        drop; timed catcold sh -c "cat '$SRC'/*.tif > /dev/null"; echo "cat $T 0" >> "$rounds"
    done
    cat "$SRC"/*.tif > /dev/null  # warm again for what follows
    local py run cat_t
    py=$(stat_in "$rounds" python min); run=$(stat_in "$rounds" imextract min); cat_t=$(stat_in "$rounds" cat min)
    note "## cold cache (blosc-lz4; the page cache dropped before each; $ROUNDS interleaved rounds)"
    note ""
    note "| route | seconds, min | seconds, median | MB/s of pixels (min) |"
    note "| --- | ---: | ---: | ---: |"
    note "| read floor: cat of the source files | $cat_t | $(stat_in "$rounds" cat median) | $(mbs $PIXMB $cat_t) |"
    note "| Python route | $py | $(stat_in "$rounds" python median) | $(mbs $PIXMB $py) |"
    note "| imextract run phase | $run | $(stat_in "$rounds" imextract median) | $(mbs $PIXMB $run) |"
    note ""
    note "- run phase / Python from a cold cache: **$(ratio "$py" "$run")x** by the minimum, $(ratio "$(stat_in "$rounds" python median)" "$(stat_in "$rounds" imextract median)")x by the median"
    note "- every round: $(tr '\n' ';' < "$rounds" | sed 's/;$//') (route, seconds, RSS MB)"
    note ""
}
# Vendor TIFF layouts: the same pixels as microscopes write them (one strip per row, Deflate and
# LZW strips, 256x256 tiles), each converted by the run phase and by the Python route in
# interleaved rounds; system calls per plane of one run job (strace -c -f, when installed).
vendor_layouts() {
    note "## vendor TIFF layouts (blosc-lz4, --levels 1; $ROUNDS interleaved rounds, medians)"
    note ""
    note "| layout | Python route s | imextract run phase s | ratio | system calls per plane (imextract) |"
    note "| --- | ---: | ---: | ---: | ---: |"
    local layout
    for layout in rows deflate lzw tiles; do
        local dir="$W/layout_$layout"
        rm -rf "$dir"; mkdir -p "$dir"
        cp "$SRC"/*.mlf "$SRC"/*.mrf "$dir"/
        local opts
        case $layout in
            rows) opts="-r 1" ;; deflate) opts="-c zip -r 16" ;; lzw) opts="-c lzw -r 16" ;; tiles) opts="-t -w 256 -l 256" ;;
        esac
        for f in "$SRC"/*.tif; do tiffcp $opts "$f" "$dir/$(basename "$f")"; done
        rm -rf "$W/exp_l"
        "$IMX" "$W/exp_l" create --source "$dir" --compression blosc-lz4 --levels 1 > /dev/null 2>&1
        cat "$dir"/*.tif > /dev/null
        local rounds="$W/layout_$layout.txt"; : > "$rounds"
        for _ in $(seq 1 "$ROUNDS"); do
            # Debian's tifffile decodes LZW only with imagecodecs, which Debian 12 does not package.
            if [ "$layout" != lzw ]; then
                timed pyl "$PY" "$ROOT/bench/python_route.py" "$dir" "$W/py.zarr" blosc-lz4 "$CORES"
                read -r _ t _ < "$W/pyl.out"; echo "python $t 0" >> "$rounds"
            fi
            "$IMX" "$W/exp_l" init > /dev/null 2>&1
            timed runl "$IMX" "$W/exp_l" run -j 1; echo "imextract $T 0" >> "$rounds"
        done
        local calls="-"
        if command -v strace > /dev/null; then
            "$IMX" "$W/exp_l" init > /dev/null 2>&1
            strace -c -f -o "$W/strace_$layout.txt" "$IMX" "$W/exp_l" run -j 1 > /dev/null 2>&1
            calls=$(awk -v n="$NPLANES" '/ total$/ { printf "%.0f", $4 / n }' "$W/strace_$layout.txt")
        fi
        local py run
        py=$(stat_in "$rounds" python median); run=$(stat_in "$rounds" imextract median)
        if [ "$layout" = lzw ]; then
            note "| lzw (tiffcp) | (tifffile cannot decode LZW without imagecodecs) | $run | | $calls |"
        else
            note "| $layout (tiffcp) | $py | $run | $(ratio "$py" "$run")x | $calls |"
        fi
        rm -rf "$dir" "$W/exp_l"
    done
    note ""
}

# The default workflow (create + init + submit: pyramid, collect's read-back) against the Python
# route doing the same work (bench/python_same_work.py), interleaved rounds.
# same_work SOURCE TITLE [INIT ARGS...]; then, on the last round's experiment, the run phase (from
# submit's log) against `collect` alone: collect's share of the run phase.
same_work() {
    local src=$1 title=$2; shift 2
    local rounds="$W/same_work.txt"; : > "$rounds"
    for _ in $(seq 1 "$ROUNDS"); do
        rm -rf "$W/pysw"
        timed pysw "$PY" "$ROOT/bench/python_same_work.py" "$src" "$W/pysw" "$CORES"; echo "python $T $RSS" >> "$rounds"
        rm -rf "$W/exp_sw"
        timed imxsw sh -c "'$IMX' '$W/exp_sw' create --source '$src' && '$IMX' '$W/exp_sw' init $* && '$IMX' '$W/exp_sw' submit 2> '$W/submit_sw.log'"
        echo "imextract $T $RSS" >> "$rounds"
    done
    local py run jobs run_phase
    py=$(stat_in "$rounds" python median); run=$(stat_in "$rounds" imextract median)
    jobs=$(ls -d "$W/exp_sw"/jobs/run/*/ | wc -l)
    run_phase=$(sed -n 's/.*run phase: .* in \([0-9.]*\) s .*/\1/p' "$W/submit_sw.log" | tail -1)
    timed collect_sw "$IMX" "$W/exp_sw" collect
    note "## $title: default workflow against the same-work Python route ($ROUNDS interleaved rounds)"
    note ""
    note "| route | seconds, median | seconds, min | stored MB |"
    note "| --- | ---: | ---: | ---: |"
    note "| Python: tifffile, numpy pyramid, zarr-python every level, level 0 read back ($CORES processes) | $py | $(stat_in "$rounds" python min) | $(du -sm "$W/pysw" | cut -f1) |"
    note "| imextract create + init + submit ($jobs run job(s)) | $run | $(stat_in "$rounds" imextract min) | $(du -sm "$W/exp_sw"/*.zarr | cut -f1) |"
    note ""
    note "- default workflow / same-work Python: **$(ratio "$py" "$run")x** by the median (target >= 2.5)"
    note "- last round: run phase $run_phase s (submit's log); collect alone afterwards $T s: collect / run phase **$(awk -v c="$T" -v r="$run_phase" 'BEGIN { printf "%.2f", c / r }')** (target <= 0.25)"
    note ""
    rm -rf "$W/pysw" "$W/exp_sw"
}

run_codec blosc-lz4
cold_rounds
vendor_layouts
same_work "$SRC" "benchmark plate ($NPLANES planes)"
# The 576-plane plate (6 x 6 wells, 2 sites, 2 channels, 4 z-planes), 2 run jobs of 36 sites.
plate p6 6 6
cat "$W/p6/microscope"/*.tif > /dev/null
same_work "$W/p6/microscope" "576-plane plate" -b 36
rm -rf "$W/p6"
DEFAULT=$("$IMX" "$W/exp" status | awk '/^compression/{print $2}')
run_codec blosc-zstd

# Scaling: the same plate shape, 4x the wells.
plate p4 4 6
rm -rf "$W/exp4"
"$IMX" "$W/exp4" create --source "$W/p4/microscope" --compression blosc-lz4 --levels 1 > /dev/null 2>&1
"$IMX" "$W/exp4" init > /dev/null 2>&1
cat "$W/p4/microscope"/*.tif > /dev/null
N4=$(ls "$W/p4/microscope"/*.tif | wc -l)
rm -rf "$W/exp"; "$IMX" "$W/exp" create --source "$SRC" --compression blosc-lz4 --levels 1 > /dev/null 2>&1
# Interleaved rounds, each on a freshly initialised plate (new files, as the write floor), so that
# a slow phase of the shared VM hits both sizes alike; the minimum and the median per size.
: > "$W/scaling.txt"; : > "$W/scaling_cpu.txt"; : > "$W/scaling_direct.txt"; : > "$W/scaling_direct_cpu.txt"; : > "$W/collect_direct.txt"; : > "$W/collect_buffered.txt"
for round in $(seq 1 "$ROUNDS"); do
    for size in 1 4; do
        exp="$W/exp"; [ "$size" = 4 ] && exp="$W/exp4"
        "$IMX" "$exp" init > /dev/null 2>&1
        timed "run$size" "$IMX" "$exp" run -j 1
        n=$NPLANES; [ "$size" = 4 ] && n=$N4
        echo "$size $(awk -v t=$T -v n=$n 'BEGIN{printf "%.2f", t*1000/n}') $RSS" >> "$W/scaling.txt"
        echo "$size $(awk -v u=$UT -v s=$ST -v n=$n 'BEGIN{printf "%.2f %.2f", u*1000/n, s*1000/n}') $REPORTED" >> "$W/scaling_cpu.txt"
        timed "collectbuf$size" "$IMX" "$exp" collect; echo "$size $T 0" >> "$W/collect_buffered.txt"
        # the same with the chunks written past the page cache (IMX_DIRECT_WRITES=1)
        "$IMX" "$exp" init > /dev/null 2>&1
        timed "direct$size" env IMX_DIRECT_WRITES=1 "$IMX" "$exp" run -j 1
        echo "$size $(awk -v t=$T -v n=$n 'BEGIN{printf "%.2f", t*1000/n}') $RSS" >> "$W/scaling_direct.txt"
        echo "$size $(awk -v u=$UT -v s=$ST -v n=$n 'BEGIN{printf "%.2f %.2f", u*1000/n, s*1000/n}') $REPORTED" >> "$W/scaling_direct_cpu.txt"
        timed "collectdirect$size" "$IMX" "$exp" collect; echo "$size $T 0" >> "$W/collect_direct.txt"
    done
done
write_floor "$W/exp4"; W4_T=$T
write_floor "$W/exp"; W1_T=$T
stat_of() { stat_in "$W/scaling.txt" "$1" "$2"; }
note "## scaling (blosc-lz4, run phase; $ROUNDS interleaved rounds)"
note ""
note "| plate | planes | ms per plane, min | ms per plane, median | peak RSS MB | write floor ms per plane |"
note "| --- | ---: | ---: | ---: | ---: | ---: |"
note "| 1x | $NPLANES | $(stat_of 1 min) | $(stat_of 1 median) | $(stat_of 1 rss) | $(awk -v t=$W1_T -v n=$NPLANES 'BEGIN{printf "%.1f", t*1000/n}') |"
note "| 4x | $N4 | $(stat_of 4 min) | $(stat_of 4 median) | $(stat_of 4 rss) | $(awk -v t=$W4_T -v n=$N4 'BEGIN{printf "%.1f", t*1000/n}') |"
note ""
note "- cost per plane 4x / 1x: **$(ratio "$(stat_of 4 min)" "$(stat_of 1 min)")** by the minimum, $(ratio "$(stat_of 4 median)" "$(stat_of 1 median)") by the median (target 0.85-1.15)"
note "- every round: $(tr '\n' ';' < "$W/scaling.txt" | sed 's/;$//') (size, ms per plane, RSS MB)"
# CPU time per plane, split into user (imextract's own work) and kernel (page cache copies and
# allocation), with the memory the guest reported free to the hypervisor during the run.
cpu_median() { awk -v k="$1" -v c="$2" '$1 == k { print $c }' "$W/scaling_cpu.txt" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
note "- CPU ms per plane (median of the rounds): user 1x $(cpu_median 1 2), 4x $(cpu_median 4 2) (4x / 1x **$(ratio "$(cpu_median 4 2)" "$(cpu_median 1 2)")**); kernel 1x $(cpu_median 1 3), 4x $(cpu_median 4 3) ($(ratio "$(cpu_median 4 3)" "$(cpu_median 1 3)"))"
note "- every round: $(tr '\n' ';' < "$W/scaling_cpu.txt" | sed 's/;$//') (size, user ms per plane, kernel ms per plane, MB the guest reported free to the hypervisor during the run)"
d_of() { stat_in "$W/scaling_direct.txt" "$1" "$2"; }
note "- with IMX_DIRECT_WRITES=1 (chunks written past the page cache), same rounds: ms per plane 1x $(d_of 1 min) / $(d_of 1 median), 4x $(d_of 4 min) / $(d_of 4 median) (min / median): 4x / 1x **$(ratio "$(d_of 4 min)" "$(d_of 1 min)")** by the minimum, $(ratio "$(d_of 4 median)" "$(d_of 1 median)") by the median; collect (verification, now reading from disk) 1x $(stat_in "$W/collect_direct.txt" 1 median) s, 4x $(stat_in "$W/collect_direct.txt" 4 median) s against $(stat_in "$W/collect_buffered.txt" 1 median) s and $(stat_in "$W/collect_buffered.txt" 4 median) s after buffered writes (medians)"
note "- every direct round: $(tr '\n' ';' < "$W/scaling_direct_cpu.txt" | sed 's/;$//') (size, user ms, kernel ms per plane, MB reported)"
note ""
rm -rf "$W/p4" "$W/exp4"

# The VM's memory. A guest with free page reporting (virtio-balloon) hands memory it has freed back
# to the hypervisor, and touching such memory again costs a fault in the host. Every route writes
# its output into newly allocated page cache, so how much of that memory was handed back changes
# its time. Probe: as much as the 4x plate stores (2.4 GB) written to tmpfs into memory freed a
# moment ago, and again after 10 s.
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
    probe=/dev/shm/imextract-bench-probe.$$
    : > "$W/probe.txt"
    for _ in 1 2 3; do
        dd if=/dev/zero of="$probe" bs=1M count=2400 2> /dev/null; rm -f "$probe"
        timed probe dd if=/dev/zero of="$probe" bs=1M count=2400; hot=$T; rm -f "$probe"
        k0=$(reported_kib); sleep 10; idle=$(( ($(reported_kib) - k0) / 1024 ))
        timed probe dd if=/dev/zero of="$probe" bs=1M count=2400; rm -f "$probe"
        echo "$hot $T $idle" >> "$W/probe.txt"
    done
    note "## the VM's memory: writing 2,400 MiB into tmpfs"
    note ""
    note "| round | freed a moment before: s | freed 10 s before: s | MB reported free to the hypervisor in those 10 s |"
    note "| ---: | ---: | ---: | ---: |"
    awk '{ printf "| %d | %s | %s | %s |\n", NR, $1, $2, $3 }' "$W/probe.txt" | tee -a "$OUT"
    note ""
    note "(free page reporting on: $([ -r "$REPORTED_KIB" ] && echo "yes, $(cat /sys/module/page_reporting/parameters/page_reporting_order 2>/dev/null) = page_reporting_order" || echo "not visible"))"
    note ""
fi

# Metadata at scale: create on RECORDS records, init on MILLION planes.
tifs=("$SRC"/*.tif)  # not `ls | head`: with pipefail, ls killed by SIGPIPE would end the script
FIRST=${tifs[0]}
$PY "$ROOT/bench/make_mlf.py" "$W/meta100k" $RECORDS "$FIRST"
timed create100k "$IMX" "$W/m100k" create --source "$W/meta100k"; C100_T=$T; C100_RSS=$RSS
$PY "$ROOT/bench/make_mlf.py" "$W/meta1m" $MILLION "$FIRST"
timed create1m "$IMX" "$W/m1m" create --source "$W/meta1m"; C1M_T=$T
timed init1m "$IMX" "$W/m1m" init; I1M_T=$T; I1M_RSS=$RSS
note "## metadata at scale"
note ""
note "- create on $RECORDS mlf records: **$C100_T s** (target < 5 s), peak RSS $C100_RSS MB"
note "- create on $MILLION records: $C1M_T s; init on $MILLION planes: **$I1M_T s** (target < 5 s), peak RSS $I1M_RSS MB"
note ""
note "(default codec: $DEFAULT)"
rm -rf "$W/meta1m" "$W/m1m" "$W/py.zarr"
echo "results: $OUT" >&2
