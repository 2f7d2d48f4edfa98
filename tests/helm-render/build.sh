# Builds tests/helm-render into $HG_ROOT/$BUILD/helm-render from Debian's Go libraries
# (GOPATH mode, no module download) and sets RENDER; source it from a test after lib.sh.
# Exits the test with a reason when Go or the libraries are missing.
RENDER=$HG_ROOT/$BUILD/helm-render
if ! command -v go >/dev/null; then
	echo "go is missing (Debian: golang-go golang-github-masterminds-sprig-dev golang-gopkg-yaml.v3-dev)"
	exit 1
fi
mkdir -p "$HG_ROOT/$BUILD"
if ! hg_render_build_out=$(cd "$HG_ROOT" && GO111MODULE=off GOPATH=/usr/share/gocode GOFLAGS= \
	GOCACHE="$HG_ROOT/$BUILD/go-cache" go build -o "$RENDER" ./tests/helm-render 2>&1); then
	echo "cannot build tests/helm-render: $hg_render_build_out"
	exit 1
fi
