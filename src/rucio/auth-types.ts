/**
 * The ways to authenticate to Rucio. A module of its own, without zod, so that the CLI can offer
 * them as choices without loading the configuration code for `--help`.
 */
export const authTypes = ['userpass', 'x509', 'x509_proxy', 'token', 'oidc'] as const;
export type AuthType = (typeof authTypes)[number];
