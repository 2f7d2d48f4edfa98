#!/usr/bin/env bash
# The API server double as a process: builds it into $BUILD, then checks the list (paged,
# node-filtered), the bearer token, a watch fed through POST /_control/event, and 410.
set -euo pipefail
cd "${HG_ROOT:-$(dirname "$0")/../..}"
BUILD=${BUILD:-build}
tests/kube-double/build.sh
out=$(mktemp -d)
trap 'kill $pid $wpid 2>/dev/null || true; rm -rf "$out"' EXIT
"$BUILD/kube-double" --template tests/data/kube/pod-template.json --token tk --pods 5 >"$out/log" &
pid=$!
for _ in $(seq 50); do grep -q listening "$out/log" && break; sleep 0.1; done
url=$(grep -o 'http://[0-9.:]*' "$out/log")
fail() { echo "FAIL: $*"; exit 1; }
# Plain grep/sed instead of a JSON tool: the double writes compact JSON.
items() { grep -o '"kind":"Pod"' <<<"$1" | wc -l; }
field() { grep -o "\"$1\":\"[^\"]*\"" <<<"$2" | head -1 | cut -d'"' -f4; }
auth=(-H "Authorization: Bearer tk")

code=$(curl -s -o /dev/null -w '%{http_code}' "$url/api/v1/pods")
[ "$code" = 401 ] || fail "no token: HTTP $code"
page=$(curl -sf "${auth[@]}" "$url/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-a&limit=3")
n=$(items "$page")
cont=$(field continue "$page")
[ "$n" = 3 ] && [ -n "$cont" ] || fail "first page: $n items, continue '$cont'"
rest=$(curl -sf "${auth[@]}" "$url/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-a&limit=3&continue=$cont")
[ "$(items "$rest")" = 2 ] || fail "second page"
[ "$(field continue "$rest")" = "" ] || fail "second page has a continue token"
none=$(curl -sf "${auth[@]}" "$url/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-z")
[ "$(items "$none")" = 0 ] || fail "field selector"
rv=$(field resourceVersion "$page")
[ -n "$rv" ] || fail "list has no resourceVersion"

curl -sN "${auth[@]}" "$url/api/v1/pods?watch=1&allowWatchBookmarks=true&resourceVersion=$rv" >"$out/watch" &
wpid=$!
sleep 0.3
pod=$(tr -d '\n' <tests/data/kube/pod-template.json |
	sed 's/6f1c2b7e-8a44-4b1e-9c0d-2e5f7a8b9c01/11111111-2222-4333-8444-555555555555/; s/"web-7c9d8f6b5-x2k4p"/"added-0"/')
curl -sf -X POST --data "{\"type\":\"ADDED\",\"object\":$pod}" "$url/_control/event" >/dev/null
curl -sf -X POST "$url/_control/bookmark" >/dev/null
curl -sf -X POST --data 'not json' "$url/_control/malformed" >/dev/null
curl -sf -X POST "$url/_control/error410" >/dev/null
for _ in $(seq 50); do grep -q '"code":410' "$out/watch" && break; sleep 0.1; done
wait $wpid || true
grep -q '"type":"ADDED".*added-0' "$out/watch" || fail "watch: no ADDED"
grep -q '"type":"BOOKMARK"' "$out/watch" || fail "watch: no BOOKMARK"
grep -qx 'not json' "$out/watch" || fail "watch: no raw line"
grep -q '"type":"ERROR".*"code":410' "$out/watch" || fail "watch: no ERROR 410"
single=$(curl -sf "${auth[@]}" "$url/api/v1/namespaces/shop/pods/added-0")
grep -q '"uid":"11111111-2222-4333-8444-555555555555"' <<<"$single" || fail "single pod"
curl -sf -X POST "$url/_control/gone" >/dev/null
code=$(curl -s -o /dev/null -w '%{http_code}' "${auth[@]}" "$url/api/v1/pods?watch=1&resourceVersion=1")
[ "$code" = 410 ] || fail "gone: HTTP $code"
echo "kube-double: ok"
