// Log in and sign up.
import { login, register } from "./api.js";
import { explain } from "./chat.js";
import { el, messageArea, mount } from "./ui.js";

function nextPath() {
  const next = new URLSearchParams(location.search).get("next") || "/";
  return next.startsWith("/") && !next.startsWith("//") ? next : "/";
}

function field(id, label, attrs) {
  return [el("label", { for: id }, label), el("input", { id, name: id, required: true, ...attrs })];
}

export function loginPage() {
  const status = messageArea("Login status");
  const form = el("form.card", {
    onsubmit: async (event) => {
      event.preventDefault();
      try {
        await login(form.login.value.trim(), form.password.value);
        location.assign(nextPath());
      } catch (error) {
        status.show(explain(error));
      }
    },
  },
  el("h1", {}, "Log in"),
  field("login", "Username or e-mail", { autocomplete: "username" }),
  field("password", "Password", { type: "password", autocomplete: "current-password" }),
  el("button", { type: "submit" }, "Log in"), status,
  el("p", {}, "New here? ", el("a", { href: "/signup" }, "Sign up")));
  mount(form);
  form.login.focus();
}

export function signupPage() {
  const status = messageArea("Sign-up status");
  const form = el("form.card", {
    onsubmit: async (event) => {
      event.preventDefault();
      try {
        await register(form.username.value.trim().toLowerCase(), form.email.value.trim(),
          form.password.value);
        location.assign(nextPath());
      } catch (error) {
        const fields = error.body && error.body.errors;
        const detail = fields ? Object.entries(fields).map(([name, list]) =>
          `${name}: ${[].concat(list).join(" ")}`).join(" ") : "";
        status.show(detail ? `${error.message} ${detail}` : explain(error));
      }
    },
  },
  el("h1", {}, "Sign up"),
  field("username", "Username (3–30 of a-z, 0-9, _)", { autocomplete: "username", pattern: "[a-zA-Z0-9_]{3,30}" }),
  field("email", "E-mail", { type: "email", autocomplete: "email" }),
  field("password", "Password", { type: "password", autocomplete: "new-password", minlength: "8" }),
  el("button", { type: "submit" }, "Create account"), status,
  el("p", {}, "Already registered? ", el("a", { href: "/login" }, "Log in")));
  mount(form);
  form.username.focus();
}
