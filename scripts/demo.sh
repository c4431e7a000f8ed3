#!/bin/sh
# make demo: assentd with a demo shopper and a demo merchant registered for
# CIBA, and the demo shop beside it. Data goes to ./demo-data (delete it to
# start over). Stop with Ctrl-C.
set -eu
dir=${DEMO_DATA:-./demo-data}
port=${DEMO_ASSENT_PORT:-8080}
shop_port=${DEMO_SHOP_PORT:-9000}
issuer=http://localhost:$port
secret=demo-shop-secret-for-local-use-only-0123
mkdir -p "$dir"
cat > "$dir/assent.yaml" <<YAML
clients:
  - id: demoshop
    secret: $secret
    ciba_mode: poll
    first_party: true
    redirect_uris: [http://localhost:$shop_port/callback]
YAML

./bin/assentd -data "$dir" -config "$dir/assent.yaml" -addr localhost:$port -issuer "$issuer" 2>"$dir/assentd.log" &
assentd=$!
shop=
trap 'kill $assentd $shop 2>/dev/null || true' EXIT INT TERM
i=0
until curl -fs "$issuer/readyz" >/dev/null 2>&1; do
	i=$((i + 1))
	if [ $i -gt 100 ]; then echo "assentd did not start; see $dir/assentd.log" >&2; exit 1; fi
	sleep 0.1
done
export ASSENT_SERVER=$issuer
export ASSENT_TOKEN="$(cat "$dir/admin.token")"
if ! ./bin/assent user show shopper@example.com >/dev/null 2>&1; then
	printf 'demo shopper password\n' | ./bin/assent user create --email shopper@example.com --name "Demo Shopper" --password-stdin >/dev/null
fi

cat <<TXT

  Assent is running at $issuer (log: $dir/assentd.log); the demo shop opens at http://localhost:$shop_port.

  In a second terminal, put the shopper's app on a "phone":

    export ASSENT_TOKEN=\$(cat $dir/admin.token)
    ./bin/assent device enroll --user shopper@example.com
    ./bin/assent device activate CODE --device-file shopper-phone.json
    ./bin/assent device run --device-file shopper-phone.json

  Then open http://localhost:$shop_port, pay as shopper@example.com, and in the app pick the number the
  shop shows (1-3) and press the right arrow. The shop verifies the signed approval and ships.

  Or press "Pay in the browser": sign in to Assent as shopper@example.com (password: demo shopper
  password), approve the sign-in in the app, then approve the payment Assent shows (amount and payee)
  in the app again. The shop shows the details the verified tokens carry.

TXT
DEMOSHOP_CLIENT_SECRET=$secret ./bin/demoshop -addr localhost:$shop_port -issuer "$issuer" &
shop=$!
wait $shop
