// Shared by the Node and the workerd benchmark: the token every library verifies.
export const NOW = 1767225600;
export const SECRET = "bench-secret-bench-secret-bench-secret-0123"; // 43 bytes
export const AUD = "https://api.acme.example";
export const ISS = "https://auth.acme.example";
/** Typical claims: the signing input comes to about 350 bytes. */
export const CLAIMS = {
  iss: ISS,
  sub: "user_7Hq2kLm9PzX4",
  aud: AUD,
  exp: 4102444800,
  nbf: NOW,
  iat: NOW,
  jti: "tok_3f9a1c2e8b7d4e6f",
  scope: "keys:read keys:write",
  role: "merchant-terminal",
};

/** `| a | b |` rows with a header. */
export function table(header, rows) {
  const line = (cells) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

export const fmt = (n) => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));
