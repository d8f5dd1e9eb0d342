export { startNetmon } from "./service.js";
export { parseInterfaces, diffInterfaces, readInterfaces, ignored } from "./interfaces.js";
export { probeUplink } from "./uplink.js";
