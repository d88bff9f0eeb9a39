// Unit tests of the UI's building blocks in jsdom: fields show the API error that names them, destructive
// actions ask first, the API client sends the CSRF header and turns the error envelope into ApiError,
// times and sizes read as a person expects, settings keys nest as PUT /api/config wants them.
import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { api, ApiError, setCsrf } from "./api";
import { ConfirmButton, Field, fieldError, otherError } from "./ui";
import { bytes, nest, relativeTime, lookup } from "./format";

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

describe("Field", () => {
  it("labels the input and shows the error the API gave for its field", () => {
    const err = new ApiError(400, "invalid", "name must be 1-63 characters", "name");
    render(<Field label="Name" name="name" value="" onChange={() => {}} error={fieldError(err, "name")} />);
    const input = screen.getByLabelText("Name");
    expect(input.getAttribute("aria-invalid")).toBe("true");
    const alert = screen.getByRole("alert");
    expect(alert.textContent).toBe("name must be 1-63 characters");
    expect(input.getAttribute("aria-describedby")).toContain(alert.id);
  });
  it("leaves errors of other fields to the banner", () => {
    const err = new ApiError(409, "conflict", "taken", "ip");
    expect(fieldError(err, "name")).toBeUndefined();
    expect(otherError(err, ["name"])).toBe(err);
    expect(otherError(err, ["ip"])).toBeNull();
  });
  it("shows user text as text, never as markup", () => {
    render(<Field label="Description" name="d" value={'<img src=x onerror="alert(1)">'} onChange={() => {}} error={'"><script>alert(2)</script>'} />);
    expect(document.querySelector("img")).toBeNull();
    expect(document.querySelector("script")).toBeNull();
    expect(screen.getByRole("alert").textContent).toBe('"><script>alert(2)</script>');
  });
});

describe("ConfirmButton", () => {
  it("acts only after the second, explicit confirmation", async () => {
    const onConfirm = vi.fn();
    render(<ConfirmButton label="Delete" question="Delete phone?" confirmLabel="Delete phone" onConfirm={onConfirm} />);
    fireEvent.click(screen.getByRole("button", { name: "Delete" }));
    expect(onConfirm).not.toHaveBeenCalled();
    expect(screen.getByRole("group", { name: "Delete phone?" })).toBeTruthy();
    const yes = screen.getByRole("button", { name: "Delete phone" });
    expect(document.activeElement).toBe(yes);
    fireEvent.click(screen.getByRole("button", { name: "Cancel" }));
    expect(onConfirm).not.toHaveBeenCalled();
    fireEvent.click(screen.getByRole("button", { name: "Delete" }));
    fireEvent.click(screen.getByRole("button", { name: "Delete phone" }));
    await Promise.resolve();
    expect(onConfirm).toHaveBeenCalledTimes(1);
  });
});

describe("api", () => {
  it("sends the CSRF token on changes, not on reads, and maps the error envelope", async () => {
    const calls: { method: string; headers: Record<string, string> }[] = [];
    vi.stubGlobal("fetch", async (_path: string, init: RequestInit) => {
      calls.push({ method: init.method!, headers: init.headers as Record<string, string> });
      if (init.method === "POST")
        return new Response(JSON.stringify({ error: { code: "invalid", message: "bad value", field: "value" } }), { status: 400 });
      return new Response(JSON.stringify({ ok: true }), { status: 200 });
    });
    setCsrf("tok123");
    await api("GET", "/api/peers");
    const err = (await api("POST", "/api/dns/records", { name: "x" }).catch((e: unknown) => e)) as ApiError;
    expect(calls[0].headers["X-CSRF-Token"]).toBeUndefined();
    expect(calls[1].headers["X-CSRF-Token"]).toBe("tok123");
    expect(calls[1].headers["Content-Type"]).toBe("application/json");
    expect(err).toBeInstanceOf(ApiError);
    expect([err.status, err.code, err.field, err.message]).toEqual([400, "invalid", "value", "bad value"]);
  });
});

describe("format", () => {
  it("reads times relative to now", () => {
    const now = 1_700_000_000_000;
    expect(relativeTime(0, now)).toBe("never");
    expect(relativeTime(now / 1000 - 120, now)).toBe("2 minutes ago");
    expect(relativeTime(now / 1000 - 3 * 86400, now)).toBe("3 days ago");
  });
  it("prints sizes in binary units", () => {
    expect(bytes(512)).toBe("512 B");
    expect(bytes(5 * 1024 * 1024)).toBe("5.0 MiB");
    expect(bytes(null)).toBe("–");
  });
  it("nests dotted keys for PUT /api/config and reads them back", () => {
    const n = nest({ "wireguard.port": 51821, cell_name: "home" });
    expect(n).toEqual({ wireguard: { port: 51821 }, cell_name: "home" });
    expect(lookup(n, "wireguard.port")).toBe(51821);
  });
});
