// The network self-test (POST /api/network/test) and each check's result; run on demand, not polled.
import { useState } from "react";
import { post } from "../api";
import { ErrorBanner, Page, useAction } from "../ui";
import type { PageProps } from "../App";

interface Check {
  name: string;
  ok: boolean | null;
  ms: number;
  detail: string;
}

export function NetworkTest(_: PageProps) {
  const [result, setResult] = useState<{ ok: boolean; ms: number; checks: Check[] } | null>(null);
  const { busy, error, run } = useAction();
  return (
    <Page title="Network test">
      <p>Checks the bridge, the cell's DNS names, NTP, DHCP and WireGuard from inside the cell.</p>
      <button type="button" disabled={busy} onClick={async () => setResult((await run(() => post<{ ok: boolean; ms: number; checks: Check[] }>("/api/network/test"))) ?? null)}>
        {busy ? "Testing…" : "Run the test"}
      </button>
      <ErrorBanner error={error} />
      {result && (
        <div aria-live="polite">
          <p className={result.ok ? "ok" : "error"}>{result.ok ? "All checks passed" : "Some checks failed"} ({result.ms.toFixed(1)} ms)</p>
          <div className="table-wrap">
            <table>
              <caption className="sr-only">Self-test results</caption>
              <thead>
                <tr>
                  <th scope="col">Check</th>
                  <th scope="col">Result</th>
                  <th scope="col">Detail</th>
                </tr>
              </thead>
              <tbody>
                {result.checks.map((c) => (
                  <tr key={c.name}>
                    <th scope="row">{c.name}</th>
                    <td>
                      <span className={`badge ${c.ok === null ? "disabled" : c.ok ? "running" : "failed"}`}>{c.ok === null ? "skipped" : c.ok ? "ok" : "failed"}</span>
                    </td>
                    <td>{c.detail}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </div>
      )}
    </Page>
  );
}
