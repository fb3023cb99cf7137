#!/usr/bin/env bash
# Executes every notebook in notebooks/ headless in the Kotlin Jupyter kernel and keeps the executed
# copies (outputs and SVG pictures included) in notebooks/executed/. Fails if any cell fails.
#
# Installs what is missing, all of it under notebooks/target/ except the Debian packages: Jupyter's
# nbconvert (apt), the Kotlin kernel's jars (Maven Central, through notebooks/kernel/pom.xml), a
# kernelspec named "kotlin" in notebooks/target/jupyter, and the lora4j library descriptor
# notebooks/target/lora4j.json that the notebooks load with `%use lora4j@file[target/lora4j.json]`.
#
#   notebooks/run.sh                     build lora4j, install, execute every notebook
#   notebooks/run.sh quickstart          only notebooks/quickstart.ipynb
#   notebooks/run.sh --install-only      install, print how to open the notebooks, execute nothing
#   notebooks/run.sh --pictures          also render the cells tagged readme-picture to
#                                        docs/images/<notebook>.png (needs rsvg-convert)
#   notebooks/run.sh --no-build          use the jars already in notebooks/target (what `mvn verify`
#                                        passes: the reactor has just packaged them)
#   notebooks/run.sh --no-install        never apt-get; print what to install instead
set -euo pipefail

NB="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(dirname "$NB")"
TARGET="$NB/target"
KERNEL="$TARGET/kernel"
JUP="$TARGET/jupyter"
KERNEL_VERSION=0.11.0-398

build=1 install=1 execute=1 pictures=0
selected=()
for arg in "$@"; do
  case "$arg" in
    --no-build) build=0 ;;
    --no-install) install=0 ;;
    --install-only) execute=0 ;;
    --pictures) pictures=1 ;;
    -h | --help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "run.sh: unknown option $arg (see --help)" >&2; exit 2 ;;
    *) selected+=("$arg") ;;
  esac
done

how_to_install() {
  cat >&2 <<EOF

The notebooks need the Kotlin Jupyter kernel, which is not installed here ($1).
Install it (Debian/Ubuntu, as root; no pip needed):
  apt-get install -y --no-install-recommends jupyter-nbconvert jupyter-client openjdk-17-jdk-headless maven
  notebooks/run.sh --install-only
which puts the kernel and the lora4j jars under notebooks/target/. Then open the notebooks with
  JUPYTER_PATH=$JUP/share/jupyter jupyter notebook notebooks/
or execute them all headless with notebooks/run.sh. To leave them out of the build: mvn verify -Dlora4j.notebooks.skip=true
EOF
  exit 2
}

seconds() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(seconds)" 'BEGIN { printf "%.1f", b - a }'; }

# --- Java 17: the kernel embeds Kotlin 1.8.20, which cannot target newer JVMs -----------------
java17=""
for candidate in ${JAVA_HOME:+"$JAVA_HOME/bin/java"} /usr/lib/jvm/java-17-openjdk-amd64/bin/java \
  /usr/lib/jvm/java-17-openjdk-arm64/bin/java "$(command -v java || true)"; do
  if [ -x "$candidate" ] && "$candidate" -version 2>&1 | grep -q 'version "17'; then
    java17="$candidate"
    break
  fi
done

# --- Jupyter (Debian's; a pyenv python3 earlier on PATH has no nbformat) ----------------------
have_jupyter() { [ -x /usr/bin/jupyter ] && /usr/bin/python3 -c 'import nbconvert, nbclient, jupyter_client' 2>/dev/null; }
missing=0
have_jupyter || missing=1
[ -n "$java17" ] || missing=1
if [ $pictures = 1 ] && ! command -v rsvg-convert >/dev/null; then missing=1; fi
if [ $missing = 1 ]; then
  packages=(jupyter-nbconvert jupyter-client)
  [ -n "$java17" ] || packages+=(openjdk-17-jdk-headless)
  [ $pictures = 0 ] || packages+=(librsvg2-bin)
  if [ $install = 1 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "run.sh: installing ${packages[*]} (apt)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
  fi
fi
have_jupyter || how_to_install "no /usr/bin/jupyter with nbconvert"
if [ $pictures = 1 ] && ! command -v rsvg-convert >/dev/null; then
  echo "run.sh: --pictures needs rsvg-convert: apt-get install librsvg2-bin" >&2
  exit 2
fi
if [ -z "$java17" ]; then
  java17=/usr/lib/jvm/java-17-openjdk-amd64/bin/java
  [ -x "$java17" ] || how_to_install "no Java 17 for the kernel"
fi

# --- The kernel's jars (Maven Central) ---------------------------------------------------------
if [ ! -f "$KERNEL/lib/kotlin-jupyter-kernel-$KERNEL_VERSION.jar" ]; then
  command -v mvn >/dev/null || how_to_install "no mvn to fetch the kernel's jars"
  echo "run.sh: fetching the Kotlin kernel $KERNEL_VERSION (Maven Central, about 80 MB)"
  rm -rf "$KERNEL/lib"
  mkdir -p "$TARGET"
  mvn -q -B -f "$NB/kernel/pom.xml" dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$KERNEL/lib" >"$TARGET/kernel-fetch.log" 2>&1 ||
    { cat "$TARGET/kernel-fetch.log" >&2; how_to_install "fetching the kernel's jars failed"; }
fi

# --- lora4j's jars and the library descriptor --------------------------------------------------
if [ $build = 1 ]; then
  echo "run.sh: building lora4j (mvn package -pl notebooks -am)"
  mkdir -p "$TARGET"
  (cd "$ROOT" && mvn -q -B package -pl notebooks -am -DskipTests) >"$TARGET/build.log" 2>&1 ||
    { cat "$TARGET/build.log" >&2; exit 1; }
fi
shopt -s nullglob
jars=("$TARGET"/lora4j-notebooks-*.jar "$TARGET"/lib/*.jar)
shopt -u nullglob
[ ${#jars[@]} -gt 1 ] || { echo "run.sh: no jars in $TARGET; run without --no-build" >&2; exit 1; }
{
  echo '{'
  echo '  "description": "lora4j: LoRA fine-tuning on the JVM (generated by notebooks/run.sh)",'
  echo '  "dependencies": ['
  for i in "${!jars[@]}"; do
    sep=","; [ "$i" = $((${#jars[@]} - 1)) ] && sep=""
    echo "    \"${jars[$i]}\"$sep"
  done
  echo '  ]'
  echo '}'
} >"$TARGET/lora4j.json"

# --- The kernelspec, in our own Jupyter directories --------------------------------------------
export JUPYTER_PATH="$JUP/share/jupyter"
export JUPYTER_DATA_DIR="$JUP/data"
export JUPYTER_CONFIG_DIR="$JUP/config"
export JUPYTER_RUNTIME_DIR="$JUP/runtime"
mkdir -p "$JUP/spec" "$JUP/home" "$JUPYTER_DATA_DIR" "$JUPYTER_CONFIG_DIR" "$JUPYTER_RUNTIME_DIR"
cat >"$JUP/logback.xml" <<'EOF'
<configuration>
  <appender name="STDERR" class="ch.qos.logback.core.ConsoleAppender">
    <target>System.err</target>
    <encoder><pattern>%-5level %logger{0} - %msg%n</pattern></encoder>
  </appender>
  <root level="WARN"><appender-ref ref="STDERR"/></root>
</configuration>
EOF
# What notebook code is compiled against: the kernel's API, Kotlin 1.8.20 and its serialization.
script_classpath=""
for name in kotlin-jupyter-api kotlin-jupyter-lib kotlin-script-runtime kotlin-stdlib kotlin-stdlib-jdk7 \
  kotlin-stdlib-jdk8 kotlin-reflect kotlinx-serialization-core-jvm kotlinx-serialization-json-jvm; do
  jar=$(ls "$KERNEL/lib/$name"-[0-9]*.jar)
  script_classpath="${script_classpath:+$script_classpath:}$jar"
done
/usr/bin/python3 - "$java17" "$KERNEL/lib" "$script_classpath" "$JUP" >"$JUP/spec/kernel.json" <<'EOF'
import json, sys
java, lib, classpath, jup = sys.argv[1:]
print(json.dumps({
    "argv": [java, "-Xmx2g", "-Dlogback.configurationFile=" + jup + "/logback.xml",
             "-cp", lib + "/*", "org.jetbrains.kotlinx.jupyter.IkotlinKt",
             "-classpath=" + classpath, "{connection_file}", "-home=" + jup + "/home"],
    "display_name": "Kotlin (lora4j)",
    "language": "kotlin",
    "interrupt_mode": "message",
    "env": {"TF_CPP_MIN_LOG_LEVEL": "2"},
}, indent=1))
EOF
/usr/bin/jupyter kernelspec install --prefix "$JUP" --name kotlin "$JUP/spec" >/dev/null 2>&1
[ -f "$JUPYTER_PATH/kernels/kotlin/kernel.json" ] || how_to_install "jupyter kernelspec install failed"

if [ $execute = 0 ]; then
  echo "run.sh: the Kotlin kernel and lora4j are installed under $TARGET. Open the notebooks with"
  echo "  JUPYTER_PATH=$JUPYTER_PATH jupyter notebook $NB"
  exit 0
fi

# --- Execute -----------------------------------------------------------------------------------
notebooks=()
if [ ${#selected[@]} = 0 ]; then
  for f in "$NB"/*.ipynb; do notebooks+=("$f"); done
else
  for s in "${selected[@]}"; do
    f="$NB/$(basename "${s%.ipynb}").ipynb"
    [ -f "$f" ] || { echo "run.sh: no notebook $f" >&2; exit 2; }
    notebooks+=("$f")
  done
fi
mkdir -p "$NB/executed"
failed=()
summary=()
for f in "${notebooks[@]}"; do
  name=$(basename "$f" .ipynb)
  rm -rf "$TARGET/runs/$name" # each execution starts from nothing, as in CI
  echo "run.sh: executing $name.ipynb"
  start=$(seconds)
  if /usr/bin/jupyter nbconvert --to notebook --execute --ExecutePreprocessor.timeout=600 \
    --ExecutePreprocessor.kernel_name=kotlin --output-dir "$NB/executed" "$f" \
    >"$TARGET/$name.log" 2>&1; then
    summary+=("$name $(elapsed "$start") s")
  else
    summary+=("$name FAILED after $(elapsed "$start") s")
    failed+=("$name")
    # nbconvert names the failing cell and its error; show that, not the kernel's startup noise
    grep -v '^\[NbConvertApp\]' "$TARGET/$name.log" | tail -40 >&2
  fi
done
printf 'run.sh: %s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "run.sh: failed: ${failed[*]} (logs in $TARGET/<name>.log)" >&2
  exit 1
fi

# --- README pictures: the SVG output of each cell tagged readme-picture, as PNG -----------------
if [ $pictures = 1 ]; then
  mkdir -p "$ROOT/docs/images"
  for f in "${notebooks[@]}"; do
    name=$(basename "$f" .ipynb)
    /usr/bin/python3 - "$NB/executed/$name.ipynb" "$TARGET/$name.svg" <<'EOF'
import json, sys
notebook, out = sys.argv[1:]
for cell in json.load(open(notebook))["cells"]:
    if "readme-picture" in cell.get("metadata", {}).get("tags", []):
        for output in cell.get("outputs", []):
            svg = output.get("data", {}).get("image/svg+xml")
            if svg:
                open(out, "w").write("".join(svg) if isinstance(svg, list) else svg)
                sys.exit(0)
sys.exit("no SVG output in a cell tagged readme-picture in " + notebook)
EOF
    rsvg-convert --zoom 2 --background-color white -o "$ROOT/docs/images/$name.png" "$TARGET/$name.svg"
    echo "run.sh: docs/images/$name.png"
  done
fi
