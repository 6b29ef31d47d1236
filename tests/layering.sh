#!/bin/sh
# The layering of the tree (docs/design.md): src/LAYER/x.c and
# include/LAYER/x.h may include headers of their own layer and of the layers
# listed before it, never of a later one.  Prints "ok - ..." / "not ok - ..."
# like an integration test.
cd "$(dirname "$0")/.." || exit 1
LAYERS="core config engine api notify export server daemon cmd"
rank() {
    i=0
    for l in $LAYERS; do
        [ "$l" = "$1" ] && { echo $i; return; }
        i=$((i + 1))
    done
    echo 99
}
bad=0
for f in src/*/*.c include/*/*.h; do
    layer=$(echo "$f" | cut -d/ -f2)
    [ "$layer" = sim ] && continue
    r=$(rank "$layer")
    for inc in $(sed -n 's|^#include "\([a-z_]*\)/[a-z_0-9]*\.h".*|\1|p' "$f"); do
        ir=$(rank "$inc")
        if [ "$ir" -gt "$r" ]; then
            echo "not ok - $f ($layer) includes a $inc header"
            bad=1
        fi
    done
done
[ $bad -eq 0 ] && echo "ok - every include points down the layers ($LAYERS)"
exit $bad
