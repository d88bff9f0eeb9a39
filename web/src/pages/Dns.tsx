// Custom DNS records of the cell's zone: list (polled every 15 s), add (answers at once), delete after a question.
import { useState } from "react";
import { del, get, post } from "../api";
import { ConfirmButton, ErrorBanner, Field, fieldError, otherError, Page, usePoll, useAction } from "../ui";
import type { PageProps } from "../App";

interface DnsRecord {
  id: number;
  name: string;
  fqdn: string;
  type: string;
  value: string;
  ttl: number;
}
const TYPES = ["A", "AAAA", "CNAME", "TXT", "MX", "SRV"];

export function Dns(_: PageProps) {
  const list = usePoll(() => get<{ zone: string; records: DnsRecord[] }>("/api/dns/records"), 15000);
  const [name, setName] = useState("");
  const [type, setType] = useState("A");
  const [value, setValue] = useState("");
  const [ttl, setTtl] = useState("300");
  const add = useAction();
  const remove = useAction();
  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    const r = await add.run(() => post("/api/dns/records", { name, type, value, ttl: Number(ttl) }));
    if (!r) return;
    setName("");
    setValue("");
    list.reload();
  };
  return (
    <Page title="DNS records">
      <ErrorBanner error={list.error ?? remove.error} />
      <form className="card" onSubmit={submit} aria-labelledby="new-record">
        <h2 id="new-record">Add a record{list.data ? ` in ${list.data.zone}` : ""}</h2>
        <Field label="Name" name="name" value={name} onChange={setName} required error={fieldError(add.error, "name")} help="The label inside the cell's zone, e.g. nas." />
        <div className="field">
          <label htmlFor="dns-type">Type</label>
          <select id="dns-type" name="type" value={type} onChange={(e) => setType(e.target.value)}>
            {TYPES.map((t) => (
              <option key={t}>{t}</option>
            ))}
          </select>
          {fieldError(add.error, "type") && <span className="field-error" role="alert">{fieldError(add.error, "type")}</span>}
        </div>
        <Field label="Value" name="value" value={value} onChange={setValue} required error={fieldError(add.error, "value")} />
        <Field label="TTL (seconds)" name="ttl" type="number" min={0} max={604800} value={ttl} onChange={setTtl} error={fieldError(add.error, "ttl")} />
        <ErrorBanner error={otherError(add.error, ["name", "type", "value", "ttl"])} />
        <button type="submit" disabled={add.busy}>
          Add record
        </button>
      </form>
      <div className="table-wrap">
        <table>
          <caption>Records ({list.data?.records.length ?? 0})</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Type</th>
              <th scope="col">Value</th>
              <th scope="col">TTL</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {list.data?.records.map((r) => (
              <tr key={r.id}>
                <th scope="row">{r.fqdn}</th>
                <td>{r.type}</td>
                <td className="value">{r.value}</td>
                <td>{r.ttl}</td>
                <td>
                  <ConfirmButton
                    label="Delete"
                    question={`Delete ${r.type} record ${r.fqdn}?`}
                    confirmLabel="Delete record"
                    onConfirm={async () => {
                      await remove.run(() => del(`/api/dns/records/${r.id}`));
                      list.reload();
                    }}
                  />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Page>
  );
}
