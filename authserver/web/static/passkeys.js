// Passkeys on Assent's pages. Every form marked data-passkey="PURPOSE"
// (signin, second_factor, register, payment) gets a button that asks the server for
// WebAuthn options, runs the ceremony in the browser, and posts the
// credential's JSON back in the form's hidden "credential" field, so the
// server answers with an ordinary page or redirect. On the sign-in page the
// e-mail field also offers passkeys in its autofill (conditional
// mediation) when the browser supports it.
(function () {
  "use strict";

  if (!window.PublicKeyCredential || !navigator.credentials) {
    return; // no WebAuthn: the buttons stay hidden
  }

  function toBuffer(b64url) {
    var b64 = b64url.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) {
      b64 += "=";
    }
    var bin = atob(b64);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) {
      out[i] = bin.charCodeAt(i);
    }
    return out.buffer;
  }

  function toBase64url(buf) {
    var bytes = new Uint8Array(buf);
    var bin = "";
    for (var i = 0; i < bytes.length; i++) {
      bin += String.fromCharCode(bytes[i]);
    }
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function withIds(list) {
    return (list || []).map(function (c) {
      return Object.assign({}, c, { id: toBuffer(c.id) });
    });
  }

  function creationOptions(json) {
    if (PublicKeyCredential.parseCreationOptionsFromJSON) {
      return PublicKeyCredential.parseCreationOptionsFromJSON(json);
    }
    var o = Object.assign({}, json);
    o.challenge = toBuffer(json.challenge);
    o.user = Object.assign({}, json.user, { id: toBuffer(json.user.id) });
    o.excludeCredentials = withIds(json.excludeCredentials);
    return o;
  }

  function requestOptions(json) {
    if (PublicKeyCredential.parseRequestOptionsFromJSON) {
      return PublicKeyCredential.parseRequestOptionsFromJSON(json);
    }
    var o = Object.assign({}, json);
    o.challenge = toBuffer(json.challenge);
    o.allowCredentials = withIds(json.allowCredentials);
    return o;
  }

  function credentialJSON(cred) {
    if (typeof cred.toJSON === "function") {
      return cred.toJSON();
    }
    var r = cred.response;
    var out = {
      id: cred.id,
      rawId: toBase64url(cred.rawId),
      type: cred.type,
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      response: { clientDataJSON: toBase64url(r.clientDataJSON) }
    };
    if (cred.authenticatorAttachment) {
      out.authenticatorAttachment = cred.authenticatorAttachment;
    }
    if (r.attestationObject) {
      out.response.attestationObject = toBase64url(r.attestationObject);
      if (r.getTransports) {
        out.response.transports = r.getTransports();
      }
    } else {
      out.response.authenticatorData = toBase64url(r.authenticatorData);
      out.response.signature = toBase64url(r.signature);
      if (r.userHandle) {
        out.response.userHandle = toBase64url(r.userHandle);
      }
    }
    return out;
  }

  // One ceremony at a time: a new one cancels a pending autofill request.
  // Options requests run one after the other, because each sets the
  // ceremony cookie and the last one set must be the one answered.
  var pending = null;
  var queue = Promise.resolve();

  function setup(form) {
    var purpose = form.getAttribute("data-passkey");
    var button = form.querySelector("[data-passkey-start]");
    var error = form.querySelector("[data-passkey-error]");
    var csrf = form.querySelector("input[name=csrf]").value;

    function fetchOptions(kind) {
      // A payment page names its own options endpoint, which links the
      // challenge to the payment the form carries.
      var url = form.getAttribute("data-passkey-options");
      var body = url ? { id: form.elements.id.value, details: form.elements.details.value } : { purpose: kind };
      return fetch(url || "/passkeys/options", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify(body)
      }).then(function (resp) {
        if (!resp.ok) {
          throw new Error("passkey options: HTTP " + resp.status);
        }
        return resp.json();
      });
    }

    function run(conditional) {
      if (pending) {
        pending.abort();
      }
      var controller = new AbortController();
      pending = controller;
      if (error) {
        error.hidden = true;
      }
      var kind = conditional ? "conditional" : purpose;
      var options = queue.then(function () {
        return fetchOptions(kind);
      });
      queue = options.catch(function () {});
      return options
        .then(function (opts) {
          if (controller.signal.aborted) {
            throw new DOMException("superseded", "AbortError");
          }
          if (purpose === "register") {
            return navigator.credentials.create({ publicKey: creationOptions(opts.publicKey), signal: controller.signal });
          }
          var req = { publicKey: requestOptions(opts.publicKey), signal: controller.signal };
          if (conditional) {
            req.mediation = "conditional";
          }
          return navigator.credentials.get(req);
        })
        .then(function (cred) {
          if (!cred) {
            return;
          }
          form.elements.credential.value = JSON.stringify(credentialJSON(cred));
          form.submit();
        })
        .catch(function (err) {
          if (controller.signal.aborted || (err && err.name === "AbortError")) {
            return;
          }
          if (!conditional && error) {
            error.hidden = false;
          }
        });
    }

    if (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        run(false);
      });
    }
    if (purpose === "signin" && PublicKeyCredential.isConditionalMediationAvailable) {
      PublicKeyCredential.isConditionalMediationAvailable().then(function (ok) {
        if (ok && !pending) {
          run(true);
        }
      });
    }
  }

  var forms = document.querySelectorAll("form[data-passkey]");
  for (var i = 0; i < forms.length; i++) {
    setup(forms[i]);
  }
})();
