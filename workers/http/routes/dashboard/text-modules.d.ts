/**
 * Files the dashboard serves as they are, imported as strings: a `[[rules]] type = "Text"` in
 * wrangler.toml makes wrangler (deploy and the local bundle) and the workerd test pool load them
 * as text modules.
 */
declare module "chart.js/dist/chart.umd.min.js" {
  const source: string;
  export default source;
}
declare module "*.client.js" {
  const source: string;
  export default source;
}
declare module "*.css" {
  const source: string;
  export default source;
}
