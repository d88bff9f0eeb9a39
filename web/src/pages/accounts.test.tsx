// Unit tests of the account pages with the API answered by a stub fetch: an app password's secret is shown
// once in a dialog (copy via the clipboard, or selected when the browser refuses) and gone after it closes;
// a delete answered 409 names what the user owns and purges only after its own confirmation; the CA
// fingerprint is grouped as phones show it; a user-role session is offered only its own account.
import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { AppPasswords, SecretDialog } from "./AppPasswords";
import { DeleteUser } from "./Users";
import { fingerprintRows } from "./Ca";
import { pagesFor } from "../App";

type Handler = (method: string, body: unknown, path: string) => [number, unknown];
function stubApi(routes: Record<string, Handler>) {
  const calls: { method: string; path: string; body: unknown }[] = [];
  vi.stubGlobal("fetch", async (path: string, init: RequestInit) => {
    const method = init.method ?? "GET";
    const body = init.body ? JSON.parse(String(init.body)) : undefined;
    calls.push({ method, path, body });
    const h = routes[path.split("?")[0]];
    const [status, data] = h ? h(method, body, path) : [404, { error: { code: "not_found", message: "no such API path", field: null } }];
    return new Response(JSON.stringify(data), { status });
  });
  return calls;
}

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const SECRET = "abcde-fghij-klmno-pqrst-uvwxy-z2345-67abc-defgh";

describe("SecretDialog", () => {
  it("says it is shown once, focuses the selected secret and copies it with the clipboard API", async () => {
    const writeText = vi.fn(async () => undefined);
    vi.stubGlobal("navigator", { clipboard: { writeText } });
    const onClose = vi.fn();
    render(<SecretDialog secret={{ id: 1, user: "anna", label: "phone", password: SECRET, note: "" }} onClose={onClose} />);
    const dialog = screen.getByRole("dialog", { name: "App password for phone" });
    expect(dialog.getAttribute("aria-modal")).toBe("true");
    expect(dialog.textContent).toContain("you will not see it again");
    const input = screen.getByLabelText("Password") as HTMLInputElement;
    expect(input.value).toBe(SECRET);
    expect(input.readOnly).toBe(true);
    expect(document.activeElement).toBe(input);
    fireEvent.click(screen.getByRole("button", { name: "Copy" }));
    await screen.findByText("Copied to the clipboard.");
    expect(writeText).toHaveBeenCalledWith(SECRET);
    fireEvent.keyDown(dialog, { key: "Escape" });
    expect(onClose).toHaveBeenCalledTimes(1);
  });

  it("selects the whole secret for copying by hand when the browser has no clipboard API (plain HTTP)", async () => {
    vi.stubGlobal("navigator", {});
    render(<SecretDialog secret={{ id: 1, user: "anna", label: "phone", password: SECRET, note: "" }} onClose={() => {}} />);
    const input = screen.getByLabelText("Password") as HTMLInputElement;
    input.setSelectionRange(0, 0);
    fireEvent.click(screen.getByRole("button", { name: "Copy" }));
    await screen.findByText(/copy it with Ctrl\+C/);
    expect([input.selectionStart, input.selectionEnd]).toEqual([0, SECRET.length]);
  });
});

describe("AppPasswords", () => {
  it("creates with a label, shows the secret once, lists labels as text and revokes after a question", async () => {
    let items = [{ id: 7, label: "<img src=x onerror=alert(1)>", created_at: 1, last_used_at: 0 }];
    const calls = stubApi({
      "/api/users/anna/app-passwords": (m, b) => {
        if (m === "POST") {
          items = [...items, { id: 8, label: (b as { label: string }).label, created_at: 2, last_used_at: 0 }];
          return [201, { id: 8, user: "anna", label: "phone", password: SECRET, note: "not shown again" }];
        }
        return [200, { user: "anna", app_passwords: items }];
      },
      "/api/users/anna/app-passwords/7": () => {
        items = items.filter((i) => i.id !== 7);
        return [200, { id: 7, revoked: true }];
      },
    });
    render(<AppPasswords user="anna" />);
    await screen.findByText("<img src=x onerror=alert(1)>");
    expect(document.querySelector("img")).toBeNull();
    fireEvent.change(screen.getByLabelText("Device label"), { target: { value: "phone" } });
    fireEvent.click(screen.getByRole("button", { name: "Create app password" }));
    await screen.findByRole("dialog");
    expect((screen.getByTestId("app-password-secret") as HTMLInputElement).value).toBe(SECRET);
    expect(calls.find((c) => c.method === "POST")!.body).toEqual({ label: "phone" });
    fireEvent.click(screen.getByRole("button", { name: "Done" }));
    expect(screen.queryByRole("dialog")).toBeNull();
    expect(document.body.innerHTML).not.toContain(SECRET);
    await screen.findByRole("rowheader", { name: "phone" });
    const row = screen.getByRole("rowheader", { name: "<img src=x onerror=alert(1)>" }).closest("tr")!;
    fireEvent.click(row.querySelector("button")!);
    expect(calls.some((c) => c.method === "DELETE")).toBe(false);
    fireEvent.click(screen.getByRole("button", { name: "Revoke it" }));
    await waitFor(() => expect(screen.queryByText("<img src=x onerror=alert(1)>")).toBeNull());
    expect(calls.find((c) => c.method === "DELETE")!.path).toBe("/api/users/anna/app-passwords/7");
  });
});

describe("DeleteUser", () => {
  it("shows the 409 naming what the user owns and purges only after the second confirmation", async () => {
    const msg = 'user "anna" still owns 2 peer(s) (anna-phone, anna-laptop) and 1 app password(s); delete them first or use ?purge=true';
    const calls = stubApi({
      "/api/users/anna": (m, _b, path) => {
        if (m === "GET") return [200, { name: "anna", role: "user", created_at: 1, password_changed_at: 1, peers: ["anna-phone", "anna-laptop"], app_passwords: 1 }];
        return path.endsWith("?purge=true")
          ? [200, { name: "anna", deleted: true, peers_deleted: 2 }]
          : [409, { error: { code: "busy", message: msg, field: "name" } }];
      },
    });
    const onDeleted = vi.fn();
    render(<DeleteUser name="anna" onDeleted={onDeleted} />);
    fireEvent.click(screen.getByRole("button", { name: "Delete anna" }));
    fireEvent.click(screen.getByRole("button", { name: "Yes, delete anna" }));
    const owned = await screen.findByTestId("owned");
    expect(owned.getAttribute("role")).toBe("alert");
    expect(owned.textContent).toContain(msg);
    expect(owned.textContent).toContain("2 peer(s): anna-phone, anna-laptop");
    expect(owned.textContent).toContain("1 app password(s)");
    expect(onDeleted).not.toHaveBeenCalled();
    fireEvent.click(screen.getByRole("button", { name: "Delete with everything they own" }));
    expect(calls.filter((c) => c.method === "DELETE").map((c) => c.path)).toEqual(["/api/users/anna"]);
    fireEvent.click(screen.getByRole("button", { name: "Delete anna and everything they own" }));
    await waitFor(() => expect(onDeleted).toHaveBeenCalledWith("User anna deleted with 2 peer(s)."));
    expect(calls.filter((c) => c.method === "DELETE").map((c) => c.path)).toEqual(["/api/users/anna", "/api/users/anna?purge=true"]);
  });

  it("a 409 for the last admin is shown as the API says, with no purge offered", async () => {
    stubApi({
      "/api/users/admin": (m) =>
        m === "GET"
          ? [200, { name: "admin", role: "admin", created_at: 1, password_changed_at: 1, peers: [], app_passwords: 0 }]
          : [409, { error: { code: "busy", message: '"admin" is the last admin and cannot be deleted', field: "name" } }],
    });
    render(<DeleteUser name="admin" onDeleted={() => {}} />);
    fireEvent.click(screen.getByRole("button", { name: "Delete admin" }));
    fireEvent.click(screen.getByRole("button", { name: "Yes, delete admin" }));
    await screen.findByText('"admin" is the last admin and cannot be deleted');
    expect(screen.queryByRole("button", { name: "Delete with everything they own" })).toBeNull();
  });
});

describe("CA fingerprint and role navigation", () => {
  it("groups a SHA-256 fingerprint in rows of eight byte pairs", () => {
    const fp = Array.from({ length: 32 }, (_, i) => i.toString(16).padStart(2, "0").toUpperCase()).join(":");
    const rows = fingerprintRows(fp);
    expect(rows.length).toBe(4);
    expect(rows[0]).toBe("00 01 02 03 04 05 06 07");
    expect(rows.join("").replace(/ /g, "")).toBe(fp.replace(/:/g, ""));
  });
  it("offers a user-role session its own account only, an admin everything", () => {
    expect(pagesFor("user").map((p) => p.path)).toEqual(["account"]);
    const admin = pagesFor("admin").map((p) => p.path);
    expect(admin).toEqual(expect.arrayContaining(["users", "ca", "peers", "account"]));
  });
});
