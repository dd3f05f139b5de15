// The state_dict naming is the model's knowledge (src/model reads it to infer a config); the graph builders share it.
export { blockPrefixes } from '../../src/model/infinityNames';
