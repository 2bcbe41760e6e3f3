// juice's browser-neutral entry (cheerio only: no file or web-resource loading) ships without types;
// it is the same function as the main entry's default export.
declare module 'juice/client' {
  import type juice from 'juice';

  const juiceClient: (html: string, options?: juice.Options) => string;
  export default juiceClient;
}
