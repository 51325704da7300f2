declare module 'node-gyp-build' {
  /** Loads the prebuild or the local build of the addon whose package root is `dir`. */
  function load(dir: string): unknown;
  export = load;
}
