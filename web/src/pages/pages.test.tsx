// Unit tests of pages with the API answered by a stub fetch: the settings form is generated from the
// metadata table (type, limits, help, restart flag), peers get one checkbox per grant the API lists and a
// create shows the API's warnings, and a peer's description is text.
import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { Settings } from "./Settings";
import { Peers } from "./Peers";

const session = { kind: "session", name: "admin", scope: "admin" };
type Handler = (method: string, body: unknown) => [number, unknown];

function stubApi(routes: Record<string, Handler>) {
  const calls: { method: string; path: string; body: unknown }[] = [];
  vi.stubGlobal("fetch", async (path: string, init: RequestInit) => {
    const method = init.method ?? "GET";
    const body = init.body ? JSON.parse(String(init.body)) : undefined;
    calls.push({ method, path, body });
    const h = routes[path.split("?")[0]];
    const [status, data] = h ? h(method, body) : [404, { error: { code: "not_found", message: "no such API path", field: null } }];
    return new Response(typeof data === "string" ? data : JSON.stringify(data), { status });
  });
  return calls;
}

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

describe("Settings", () => {
  it("builds one input per setting from the metadata and saves only what changed, nested", async () => {
    const calls = stubApi({
      "/api/config/settings": () => [200, { settings: [
        { key: "cell_name", type: "string", default: "mycell", needs_restart: false, description: "Name of this cell", module: null },
        { key: "wireguard.port", type: "integer", default: 51820, needs_restart: true, description: "UDP port", module: "wireguard", min: 1, max: 65535 },
      ] }],
      "/api/config": (m) => (m === "PUT" ? [400, { error: { code: "invalid", message: "wireguard.port must be 1-65535", field: "wireguard.port" } }] : [200, { cell_name: "home", wireguard: { port: 51820 } }]),
      "/api/config/pending": () => [200, { restart_required: false, pending: [] }],
    });
    render(<Settings session={session} onSessionEnded={() => {}} />);
    const port = (await screen.findByLabelText(/wireguard\.port/)) as HTMLInputElement;
    await waitFor(() => expect(port.value).toBe("51820"));
    expect(port.type).toBe("number");
    expect(port.min).toBe("1");
    expect(port.max).toBe("65535");
    expect(screen.getByText("UDP port", { exact: false }).textContent).toContain("(1–65535)");
    expect(screen.getByLabelText(/wireguard\.port/).closest(".field")!.textContent).toContain("needs apply");
    expect((screen.getByLabelText(/cell_name/) as HTMLInputElement).value).toBe("home");
    fireEvent.change(port, { target: { value: "51821" } });
    fireEvent.click(screen.getByRole("button", { name: /Save changes \(1\)/ }));
    const err = await screen.findByText("wireguard.port must be 1-65535");
    expect(port.closest(".field")!.contains(err)).toBe(true);
    expect(calls.find((c) => c.method === "PUT")!.body).toEqual({ wireguard: { port: 51821 } });
  });
});

describe("Peers", () => {
  it("offers the API's grants as checkboxes and shows a created peer's warnings", async () => {
    const calls = stubApi({
      "/api/peers": (m, b) =>
        m === "POST"
          ? [201, { ...(b as object), ip: "10.0.0.2", public_key: "k", enabled: true, created_at: 1, updated_at: 1, warnings: ["wireguard.endpoint is not set"] }]
          : [200, { peers: [{ name: "old", ip: "10.0.0.3", public_key: "k2", service_access: [], enabled: true, route_all: false, description: "<b>bold</b>", created_at: 1, updated_at: 1 }], grants: ["calendar", "files", "mail"] }],
      "/api/wireguard/peers": () => [200, { peers: [] }],
      "/api/users": () => [200, { users: [{ name: "anna", role: "user", created_at: 1, password_changed_at: 1 }] }],
      "/api/peers/phone/config": () => [200, "[Interface]\n"],
    });
    render(<Peers session={session} onSessionEnded={() => {}} />);
    const boxes = await screen.findAllByRole("checkbox", { name: /^(calendar|files|mail)$/ });
    expect(boxes.map((b) => b.getAttribute("name"))).toEqual(["grant-calendar", "grant-files", "grant-mail"]);
    expect(screen.getByText("<b>bold</b>")).toBeTruthy();
    expect(document.querySelector(".description b")).toBeNull();
    fireEvent.change(screen.getByLabelText("Name"), { target: { value: "phone" } });
    await screen.findAllByRole("option", { name: "anna" });
    fireEvent.change(screen.getByLabelText("Owner"), { target: { value: "anna" } });
    fireEvent.click(boxes[0]);
    fireEvent.click(boxes[2]);
    fireEvent.click(screen.getByRole("button", { name: "Create peer" }));
    await screen.findByText("wireguard.endpoint is not set");
    expect(calls.find((c) => c.method === "POST")!.body).toMatchObject({ name: "phone", service_access: ["calendar", "mail"], owner: "anna" });
    expect(await screen.findByRole("img", { name: /QR code of the WireGuard configuration of phone/ })).toBeTruthy();
  });
});
