import { Controller, Get, Header, Param, StreamableFile } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { PolicyNotFoundException, Public } from 'nest-agent-policy';
import { loadConsoleAssets, type ConsoleAsset } from './console.assets';

/** Scripts and styles only from this origin; the API is called from this origin; never framed. */
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * The operators' web console (GET /console): static files that call the public HTTP API with the token or API key
 * pasted at sign-in. The files are public (they hold no data); every figure comes from an authorized API call.
 */
@ApiExcludeController()
@Controller('console')
export class ConsoleController {
  private readonly assets: ReadonlyMap<string, ConsoleAsset> = loadConsoleAssets();

  @Get()
  @Public()
  @Header('Content-Security-Policy', CSP)
  @Header('X-Content-Type-Options', 'nosniff')
  @Header('Referrer-Policy', 'no-referrer')
  @Header('Cache-Control', 'no-store')
  index(): StreamableFile {
    return this.file('index.html');
  }

  @Get(':file')
  @Public()
  @Header('Content-Security-Policy', CSP)
  @Header('X-Content-Type-Options', 'nosniff')
  @Header('Cache-Control', 'no-cache')
  asset(@Param('file') name: string): StreamableFile {
    return this.file(name);
  }

  private file(name: string): StreamableFile {
    const asset = this.assets.get(name);
    if (!asset) throw new PolicyNotFoundException();
    return new StreamableFile(asset.body, { type: asset.type, length: asset.body.length });
  }
}
