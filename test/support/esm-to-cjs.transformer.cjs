/**
 * Jest transformer for ESM-only packages in node_modules (NestJS 12 and friends).
 * Jest on Node 20 cannot `require()` an ES module, so these files are compiled to CommonJS;
 * `import.meta.url` becomes the file URL of the compiled module.
 */
const ts = require('typescript');
const crypto = require('node:crypto');

const VERSION = '1';

module.exports = {
  getCacheKey(source, path) {
    return crypto.createHash('sha1').update(VERSION).update(path).update(source).digest('hex');
  },
  process(source, path) {
    const prepared = source
      .replace(/^\s*const require = createRequire\(import\.meta\.url\);?/m, '')
      .replace(/import\.meta\.url/g, "require('node:url').pathToFileURL(__filename).href")
      .replace(/import\.meta\.dirname/g, '__dirname')
      .replace(/import\.meta\.filename/g, '__filename');
    const out = ts.transpileModule(prepared, {
      fileName: path,
      compilerOptions: {
        module: ts.ModuleKind.CommonJS,
        target: ts.ScriptTarget.ES2022,
        allowJs: true,
        esModuleInterop: true,
        sourceMap: false,
      },
    });
    return { code: out.outputText };
  },
};
