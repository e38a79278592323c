console.log("hello from public/assets/app.js");
