/** worker_threads entry of the dataset writer: renders its range and posts progress, then the meta lines. */
import { parentPort, workerData } from 'node:worker_threads';
import { renderRange, type RangeJob } from './render';

const job = workerData as RangeJob;
const lines = renderRange(job, (done) => {
  if (done % 16 === 0) parentPort!.postMessage({ type: 'progress', done });
});
parentPort!.postMessage({ type: 'done', lines });
