console.log("hello from build/app.js");
