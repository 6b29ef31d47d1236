#!/bin/sh
# t054-statuspage-screens: the status page of firing, pending and silenced
# alerts (the fixture of tests/unit/test_statuspage.c) in headless
# Chromium at 1280 and 390 px: no page-wide horizontal scroll, and
# screenshots saved in $LOGDIR for a person to look at.
#
#   SEGALERT_SRC=$PWD LOGDIR=/tmp/it sh tests/integration/t054-statuspage-screens.sh
#
# Needs chromium (Debian package chromium): without it the test fails
# saying so.
. "$(dirname "$0")/lib.sh"

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
# the unit tests of the variant under test (build/rel or build/san)
case "$SEGALERT" in
*/build/san/*) PAGE_DIR=$SRC/build/san ;;
*) PAGE_DIR=$SRC/build/rel ;;
esac
PAGE_TEST=${STATUSPAGE_TEST:-$PAGE_DIR/tests/test_statuspage}
OUT=${LOGDIR:-$T}
mkdir -p "$OUT"

if [ ! -x "$CHROMIUM" ]; then
    notok "chromium not installed (Debian package chromium)"
    finish
fi
if [ ! -x "$PAGE_TEST" ]; then
    notok "unit test binary $PAGE_TEST (make unit-tests)"
    finish
fi
STATUSPAGE_HTML="$T/page.html" "$PAGE_TEST" >"$T/unit.log" 2>&1
check "the fixture page is written" [ -s "$T/page.html" ]

chrome() {
    timeout 90 "$CHROMIUM" --headless --no-sandbox --disable-gpu \
        --disable-background-networking --disable-component-update \
        --disable-sync --no-first-run --hide-scrollbars \
        --user-data-dir="$T/chrome" "$@"
}

# The served page allows no script (CSP); this copy, read from a file,
# carries one that reports its widths to the frame around it.  Chromium's
# window is at least 500 px wide, so the page is measured and shot inside
# an iframe of the width under test.
sed 's#</body>#<script>parent.postMessage(document.documentElement.scrollWidth + "/" + window.innerWidth, "*");</script></body>#' \
    "$T/page.html" >"$T/measure.html"

for w in 1280 390; do
    cat >"$T/frame-$w.html" <<FRAME
<!DOCTYPE html><html><body style="margin:0;background:#fff">
<iframe src="measure.html" width="$w" height="1600" style="border:0;display:block"></iframe>
<script>addEventListener("message", function (e) { document.body.setAttribute("data-widths", e.data); });</script>
</body></html>
FRAME
    sed 's#measure.html#page.html#; /<script>/d' "$T/frame-$w.html" >"$T/shot-$w.html"
    chrome --window-size=$w,1600 --virtual-time-budget=3000 --dump-dom \
        "file://$T/frame-$w.html" >"$T/dom-$w.html" 2>>"$T/chrome.err"
    widths=$(sed -n 's/.*data-widths="\([0-9]*\/[0-9]*\)".*/\1/p' "$T/dom-$w.html" | head -1)
    sw=${widths%/*}
    iw=${widths#*/}
    check "$w px: widths measured ($widths)" [ "${iw:-0}" = "$w" ]
    check "$w px: no horizontal scroll (scrollWidth $sw <= innerWidth $iw)" \
        [ "${sw:-99999}" -le "${iw:-0}" ]
    chrome --window-size=$w,1600 --virtual-time-budget=3000 \
        --screenshot="$OUT/t054-status-$w.png" "file://$T/shot-$w.html" \
        >/dev/null 2>>"$T/chrome.err"
    check "$w px: screenshot $OUT/t054-status-$w.png" \
        sh -c "[ -s '$OUT/t054-status-$w.png' ] && head -c 8 '$OUT/t054-status-$w.png' | grep -q PNG"
done
finish
