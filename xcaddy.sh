#!/usr/bin/env bash
# Build a Caddy binary with caddy-fitbit compiled in, using xcaddy, then check
# that the plugin's modules are registered.
#
#   ./xcaddy.sh                 # writes ./bin/caddy-fitbit
#   ./xcaddy.sh /usr/local/bin/caddy
#
# Environment:
#   CADDY_VERSION    Caddy version to build (default: v2.11.9, the one go.mod uses)
#   XCADDY_VERSION   xcaddy version installed when xcaddy is not on PATH (default: v0.4.5)
#   XCADDY           path of an xcaddy binary to use instead of looking one up
#
# Needs only Go and the Go module proxy (GOPROXY); nothing else is downloaded.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
caddy_version="${CADDY_VERSION:-v2.11.9}"
xcaddy_version="${XCADDY_VERSION:-v0.4.5}"
plugin_module="github.com/caddy-fitbit/caddy-fitbit"
output="${1:-${repo_root}/bin/caddy-fitbit}"

command -v go >/dev/null 2>&1 || { echo "xcaddy.sh: go is not on PATH" >&2; exit 1; }

# An absolute output path: xcaddy builds in a temporary directory.
mkdir -p "$(dirname "${output}")"
output="$(cd "$(dirname "${output}")" && pwd)/$(basename "${output}")"

# xcaddy: $XCADDY, else PATH, else a pinned copy in ./bin/tools.
xcaddy="${XCADDY:-}"
if [[ -z "${xcaddy}" ]]; then
	if command -v xcaddy >/dev/null 2>&1; then
		xcaddy="$(command -v xcaddy)"
	else
		tools="${repo_root}/bin/tools"
		xcaddy="${tools}/xcaddy"
		if [[ ! -x "${xcaddy}" ]]; then
			echo "xcaddy.sh: installing xcaddy ${xcaddy_version} into ${tools}" >&2
			mkdir -p "${tools}"
			GOBIN="${tools}" go install "github.com/caddyserver/xcaddy/cmd/xcaddy@${xcaddy_version}"
		fi
	fi
fi

# The plugin is replaced by this checkout at a fixed pseudo-version, so that
# "go get" resolves it from the replace directive alone: a version-less
# replacement makes Go ask the module proxy for the plugin's version list,
# which fails offline or for a module that is not published (yet).
local_version="v0.0.0-00010101000000-000000000000"

echo "xcaddy.sh: building Caddy ${caddy_version} with ${plugin_module}=${repo_root} -> ${output}" >&2
(
	# xcaddy works in a temporary module of its own; keep this repo's
	# GOFLAGS (e.g. -mod=vendor) out of it.
	cd "${repo_root}"
	unset GOFLAGS
	"${xcaddy}" build "${caddy_version}" \
		--with "${plugin_module}@${local_version}=${repo_root}" \
		--output "${output}"
)

# The plugin's modules must be registered in the binary.
modules="$("${output}" list-modules)"
missing=0
for mod in fitbit http.handlers.fitbit_auth http.reverse_proxy.transport.fitbit; do
	if grep -qxF "${mod}" <<<"${modules}"; then
		echo "xcaddy.sh: module ${mod}: ok" >&2
	else
		echo "xcaddy.sh: module ${mod}: MISSING from ${output} list-modules" >&2
		missing=1
	fi
done
if ((missing)); then
	exit 1
fi
echo "xcaddy.sh: built ${output}" >&2
