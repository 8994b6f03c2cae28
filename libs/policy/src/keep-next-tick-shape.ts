/**
 * `import 'nest-agent-policy/keep-next-tick-shape';` as the first import of an app's entry file keeps one of
 * `process.nextTick`'s queue entries alive from the start (see {@link keepNextTickShape}): the earlier, the fewer
 * garbage collections can have replaced the entries' hidden class before it is kept. `PolicyModule` also keeps one,
 * later, for apps that do not import this.
 */
import { keepNextTickShape } from './common/tick-shape';

keepNextTickShape();
