import { execFileSync } from 'node:child_process';
import path from 'node:path';

/** A self-signed certificate and key (PEM files in `dir`) for `commonName`, valid a day. */
export function selfSignedCertificate(dir: string, name: string, commonName: string, altNames?: string) {
  const key = path.join(dir, `${name}.key`);
  const cert = path.join(dir, `${name}.pem`);
  execFileSync(
    'openssl',
    [
      ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert],
      ...['-subj', `/CN=${commonName}`, '-days', '1'],
      ...(altNames === undefined ? [] : ['-addext', `subjectAltName=${altNames}`]),
    ],
    { stdio: 'ignore' },
  );
  return { key, cert };
}
