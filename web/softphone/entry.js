// The browser bundle's entry: JsSIP as one global (window.JsSIP), for console/static/phone.js.
module.exports = require("jssip");
