// The cell CA: the root's SHA-256 fingerprint in groups a person can compare on a phone, its name
// constraints, validity, PEM and DER downloads, where VPN peers fetch it, and the services' certificates.
import { get, type CaInfo } from "../api";
import { ErrorBanner, Page, Time, usePoll } from "../ui";
import type { PageProps } from "../App";

// "AB:CD:…" (32 bytes) → rows of 8 byte pairs, the way phones show a certificate's SHA-256.
export function fingerprintRows(fp: string): string[] {
  const pairs = fp.replace(/[^0-9a-fA-F]/g, "").toUpperCase().match(/.{1,2}/g) ?? [];
  const rows: string[] = [];
  for (let i = 0; i < pairs.length; i += 8) rows.push(pairs.slice(i, i + 8).join(" "));
  return rows;
}

export function Fingerprint({ fp, testId }: { fp: string; testId?: string }) {
  return (
    <code className="fingerprint" data-testid={testId} aria-label={`SHA-256 fingerprint ${fp}`}>
      {fingerprintRows(fp).map((r) => (
        <span key={r} className="fp-row">
          {r}
        </span>
      ))}
    </code>
  );
}

const isoSec = (s: string) => Math.floor(Date.parse(s) / 1000);

export function Ca(_: PageProps) {
  const ca = usePoll(() => get<CaInfo>("/api/ca"), 60000);
  const c = ca.data;
  return (
    <Page title="Certificate authority">
      <p className="help">
        The cell's own root certificate. Installed on a device, it makes HTTPS to the cell's services trusted — and only to them: its name
        constraints permit nothing outside the cell's names and addresses.
      </p>
      <ErrorBanner error={ca.error} />
      {c && (
        <>
          <div className="card">
            <h2>Root fingerprint (SHA-256)</h2>
            <p>Compare it with what the device shows before you install the certificate.</p>
            <Fingerprint fp={c.fingerprint_sha256} testId="ca-fingerprint" />
            <dl className="facts">
              <dt>Valid from</dt>
              <dd>
                <Time ts={isoSec(c.not_before)} />
              </dd>
              <dt>Expires</dt>
              <dd data-testid="ca-expiry">
                <Time ts={isoSec(c.not_after)} />
              </dd>
              <dt>Serial</dt>
              <dd>{c.serial}</dd>
            </dl>
            <div className="actions">
              <a className="button" href="/api/ca?format=pem" download="cell-ca.pem">
                Download the root (PEM)
              </a>
              <a className="button" href="/api/ca?format=der" download="cell-ca.der">
                Download the root (DER, for Android)
              </a>
            </div>
          </div>
          <div className="card">
            <h2>Where devices get it</h2>
            {c.url ? (
              <p>
                A device connected over the VPN downloads it from <code data-testid="ca-url">{c.url}</code> (plain HTTP: the certificate is
                public, the fingerprint above proves it is the right one).
              </p>
            ) : (
              <p>The cell has no address for its API yet, so devices cannot download it over the VPN; use the download links above.</p>
            )}
          </div>
          <div className="card">
            <h2>Name constraints {c.name_constraints.critical ? "(critical)" : ""}</h2>
            <dl className="facts">
              <dt>Names</dt>
              <dd data-testid="ca-dns">{c.name_constraints.permitted_dns.join(", ") || "none"}</dd>
              <dt>Addresses</dt>
              <dd data-testid="ca-ip">{c.name_constraints.permitted_ip.join(", ") || "none"}</dd>
            </dl>
          </div>
          <div className="table-wrap">
            <table>
              <caption>Service certificates (renewed automatically)</caption>
              <thead>
                <tr>
                  <th scope="col">Service</th>
                  <th scope="col">Names</th>
                  <th scope="col">Expires</th>
                </tr>
              </thead>
              <tbody>
                {c.leaves.map((l) => (
                  <tr key={l.service}>
                    <th scope="row">{l.service}</th>
                    <td className="value">{[...l.dns, ...l.ip].join(", ")}</td>
                    <td>
                      <Time ts={isoSec(l.not_after)} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <details className="card">
            <summary>The root in PEM</summary>
            <pre className="log">{c.pem}</pre>
          </details>
        </>
      )}
    </Page>
  );
}
